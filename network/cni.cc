#include "network/cni.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/scoped_pid.h"
#include "common/unique_fd.h"

namespace berth::network {
namespace {

using nlohmann::json;

class RealPluginExec : public PluginExec {
 public:
  explicit RealPluginExec(std::string dir) : dir_(std::move(dir)) {}

  Result<std::string> run(const std::string& plugin,
                          const std::map<std::string, std::string>& env,
                          const std::string& stdinData) override {
    std::string path = dir_ + "/" + plugin;
    int inP[2], outP[2];
    if (::pipe2(inP, O_CLOEXEC) < 0) return failErrno("pipe");
    UniqueFd inR(inP[0]), inW(inP[1]);
    if (::pipe2(outP, O_CLOEXEC) < 0) return failErrno("pipe");
    UniqueFd outR(outP[0]), outW(outP[1]);
    std::vector<std::string> envs;
    for (auto& [k, v] : env) envs.push_back(k + "=" + v);
    envs.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    char* argv[] = {path.data(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) return failErrno("fork");
    if (pid == 0) {
      ::dup2(inR.get(), 0);
      ::dup2(outW.get(), 1);
      int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, 2);
      ::execve(path.c_str(), argv, envp.data());
      ::_exit(127);
    }
    ScopedPid child(pid);
    inR.reset();
    outW.reset();
    // Configs are small (< pipe buffer); write all then read to EOF.
    size_t off = 0;
    while (off < stdinData.size()) {
      // MSG_NOSIGNAL does not exist for pipes; a plugin that exits without reading its config
    // is caught by its exit status, and a SIGPIPE here is avoided by writing config sizes
    // that fit the pipe buffer (configs are a few KiB).
    ssize_t n = ::write(inW.get(), stdinData.data() + off, stdinData.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      off += static_cast<size_t>(n);
    }
    inW.reset();
    std::string out;
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(outR.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    BERTH_ASSIGN(int status, child.wait());
    int code = exitCodeFromStatus(status);
    if (code != 0) {
      std::string msg = "CNI plugin " + plugin + " " + env.at("CNI_COMMAND") + " failed";
      auto j = json::parse(out, nullptr, false);
      if (j.is_object() && j.contains("msg")) {
        msg += ": " + j.value("msg", std::string());
        if (j.contains("details") && j["details"].is_string() &&
            !j["details"].get<std::string>().empty())
          msg += " (" + j["details"].get<std::string>() + ")";
      } else if (code == 127) {
        msg += ": cannot execute " + path;
      } else {
        msg += " with exit code " + std::to_string(code);
      }
      return fail(ErrorCode::kInternal, msg);
    }
    return out;
  }

 private:
  std::string dir_;
};

std::map<std::string, std::string> envFor(const char* cmd, const CniRuntime& rt) {
  return {{"CNI_COMMAND", cmd},
          {"CNI_CONTAINERID", rt.containerId},
          {"CNI_NETNS", rt.netns},
          {"CNI_IFNAME", rt.ifname},
          {"CNI_ARGS", ""},
          {"CNI_PATH", "/usr/lib/cni"}};
}

Result<json> parseList(const std::string& conflist) {
  auto l = json::parse(conflist, nullptr, false);
  if (!l.is_object() || !l.contains("plugins") || !l["plugins"].is_array())
    return fail(ErrorCode::kCorrupt, "bad CNI conflist");
  return l;
}

json pluginConf(const json& list, const json& plugin, const CniRuntime& rt,
                const json* prev) {
  json c = plugin;
  c["name"] = list.value("name", std::string("berth"));
  c["cniVersion"] = list.value("cniVersion", std::string("1.0.0"));
  if (prev && !prev->is_null()) c["prevResult"] = *prev;
  if (rt.runtimeConfig && plugin.contains("capabilities")) {
    json rc = json::object();
    for (auto& [cap, on] : plugin["capabilities"].items()) {
      if (on.is_boolean() && on.get<bool>() && rt.runtimeConfig->contains(cap))
        rc[cap] = (*rt.runtimeConfig)[cap];
    }
    if (!rc.empty()) c["runtimeConfig"] = rc;
  }
  c.erase("capabilities");
  return c;
}

}  // namespace

std::unique_ptr<PluginExec> makeRealPluginExec(std::string pluginDir) {
  return std::make_unique<RealPluginExec>(std::move(pluginDir));
}

Result<std::string> cniAdd(PluginExec& exec, const std::string& conflist, const CniRuntime& rt) {
  BERTH_ASSIGN(json list, parseList(conflist));
  json prev;
  size_t done = 0;
  for (auto& p : list["plugins"]) {
    std::string type = p.value("type", std::string());
    auto out = exec.run(type, envFor("ADD", rt), pluginConf(list, p, rt, &prev).dump());
    if (!out) {
      // Undo what was done, so a failed ADD leaves no lease, veth or rule behind.
      json partial = list;
      partial["plugins"] = json::array();
      for (size_t i = 0; i <= done && i < list["plugins"].size(); ++i)
        partial["plugins"].push_back(list["plugins"][i]);
      (void)cniDel(exec, partial.dump(), rt, prev.is_null() ? "" : prev.dump());
      return fail(std::move(out.error()));
    }
    auto j = json::parse(*out, nullptr, false);
    if (j.is_discarded()) return fail(ErrorCode::kCorrupt, "CNI plugin " + type + ": bad result");
    prev = j;
    ++done;
  }
  return prev.dump();
}

Result<void> cniDel(PluginExec& exec, const std::string& conflist, const CniRuntime& rt,
                    const std::string& prevResult) {
  BERTH_ASSIGN(json list, parseList(conflist));
  json prev;
  if (!prevResult.empty()) prev = json::parse(prevResult, nullptr, false);
  if (prev.is_discarded()) prev = nullptr;
  Result<void> first;
  auto& plugins = list["plugins"];
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    std::string type = it->value("type", std::string());
    auto out = exec.run(type, envFor("DEL", rt), pluginConf(list, *it, rt, &prev).dump());
    if (!out && first) first = fail(std::move(out.error()));
  }
  return first;
}

}  // namespace berth::network

#include "engine/procs.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"

namespace berth::engine {
namespace {
// Fields after the "(comm)" part of /proc/<pid>/stat, state first.
std::optional<std::vector<std::string>> statFields(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto t = fs::readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!t) return std::nullopt;
  auto close = t->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string> out;
  for (auto& f : str::split(std::string_view(*t).substr(close + 2), ' '))
    if (!f.empty()) out.push_back(f);
  return out;
}
}  // namespace

std::optional<uint64_t> pidStartTime(pid_t pid) {
  auto f = statFields(pid);
  if (!f || f->size() < 20) return std::nullopt;
  return str::parseU64((*f)[19]);  // field 22 overall
}

bool pidAlive(pid_t pid, uint64_t start) {
  auto f = statFields(pid);
  if (!f || f->size() < 20) return false;
  if ((*f)[0] == "Z" || (*f)[0] == "X") return false;
  if (start == 0) return true;
  auto s = str::parseU64((*f)[19]);
  return s && *s == start;
}

bool waitPidGone(pid_t pid, uint64_t start, int timeoutMs) {
  if (!pidAlive(pid, start)) return true;
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    if (!pidAlive(pid, start)) return true;
    int left = 50;
    if (timeoutMs >= 0) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      if (ms <= 0) return !pidAlive(pid, start);
      left = static_cast<int>(std::min<long>(ms, 50));
    }
    if (pfd) {
      // pidfd becomes readable when the process exits (zombie counts as exited).
      pollfd p{pfd.get(), POLLIN, 0};
      ::poll(&p, 1, left);
      if (p.revents & POLLIN) return true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(left));
    }
  }
}

std::optional<ProcInfo> procInfo(pid_t pid) {
  auto f = statFields(pid);
  if (!f || f->size() < 20) return std::nullopt;
  ProcInfo p;
  p.pid = pid;
  p.ppid = static_cast<pid_t>(str::parseU64((*f)[1]).value_or(0));
  long tck = sysconf(_SC_CLK_TCK);
  p.cpuSeconds = static_cast<double>(str::parseU64((*f)[11]).value_or(0) +
                                     str::parseU64((*f)[12]).value_or(0)) /
                 static_cast<double>(tck);
  auto status = fs::readFile("/proc/" + std::to_string(pid) + "/status");
  if (status) {
    auto pos = status->find("\nUid:");
    if (pos != std::string::npos)
      p.uid = static_cast<uid_t>(std::stoul(status->substr(pos + 5)));
  }
  auto cmd = fs::readFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (cmd) {
    for (char& c : *cmd)
      if (c == '\0') c = ' ';
    p.cmd = std::string(str::trim(*cmd));
  }
  return p;
}

}  // namespace berth::engine

#include "builder/instructions.h"

#include <algorithm>
#include <set>

#include "common/fs.h"
#include "common/strings.h"

namespace berth::build {
namespace {

Error err(const Instruction& ins, const std::string& m) { return lineError(ins.line, m); }

/// `k=v k2=v2` or the old `k value with spaces` form, substituted. Docker's parseNameVal.
Result<std::vector<std::pair<std::string, std::string>>> nameValues(const Lexer& lx,
                                                                     const Instruction& ins,
                                                                     const VarMap& vars) {
  std::vector<std::pair<std::string, std::string>> out;
  auto words = lx.splitRaw(ins.args);
  if (!words) return fail(err(ins, words.error().message()));
  if (words->empty()) return fail(err(ins, ins.keyword + " requires at least one argument"));
  if ((*words)[0].find('=') == std::string::npos) {
    // Old form: the first word is the name, the rest of the line the value.
    std::string name = (*words)[0];
    std::string_view rest = str::trim(std::string_view(ins.args).substr(name.size()));
    if (rest.empty())
      return fail(err(ins, ins.keyword + " " + name + ": must have two arguments (name value) "
                                                      "or the form name=value"));
    auto v = lx.processWord(rest, vars);
    if (!v) return fail(err(ins, v.error().message()));
    out.emplace_back(name, *v);
    return out;
  }
  for (auto& w : *words) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(err(ins, "syntax error - can't find = in \"" + w +
                               "\". Must be of the form: name=value"));
    auto k = lx.processWord(w.substr(0, eq), vars);
    auto v = lx.processWord(w.substr(eq + 1), vars);
    if (!k) return fail(err(ins, k.error().message()));
    if (!v) return fail(err(ins, v.error().message()));
    out.emplace_back(*k, *v);
  }
  return out;
}

/// Words of a VOLUME/EXPOSE style instruction: JSON or substituted shell words.
Result<std::vector<std::string>> listArgs(const Lexer& lx, const Instruction& ins,
                                          const VarMap& vars) {
  std::vector<std::string> out;
  if (ins.jsonForm) {
    for (auto& e : ins.json) {
      auto v = lx.processWord(e, vars);
      if (!v) return fail(err(ins, v.error().message()));
      out.push_back(*v);
    }
  } else {
    auto w = lx.processWords(ins.args, vars);
    if (!w) return fail(err(ins, w.error().message()));
    out = *w;
  }
  return out;
}

void addSorted(std::vector<std::string>& list, const std::string& v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
  std::sort(list.begin(), list.end());
}

Result<void> expose(const Instruction& ins, const std::vector<std::string>& ports,
                    oci::ImageConfig& cfg) {
  for (auto& p : ports) {
    auto [num, proto] = str::splitOnce(p, '/');
    std::string pr = str::toLower(proto.value_or("tcp"));
    if (pr != "tcp" && pr != "udp" && pr != "sctp")
      return fail(err(ins, "EXPOSE " + p + ": invalid protocol \"" + pr + "\""));
    auto [lo, hi] = str::splitOnce(num, '-');
    auto a = str::parseU64(lo);
    auto b = hi ? str::parseU64(*hi) : a;
    if (!a || !b || *a == 0 || *a > 65535 || *b > 65535 || *b < *a)
      return fail(err(ins, "EXPOSE " + p + ": invalid port"));
    for (uint64_t n = *a; n <= *b; ++n)
      addSorted(cfg.config.exposedPorts, std::to_string(n) + "/" + pr);
  }
  return {};
}

Result<void> healthcheck(const Lexer& lx, const Instruction& ins, oci::ImageConfig& cfg) {
  std::string_view a = ins.args;
  auto sp = a.find_first_of(" \t");
  std::string kind = str::toLower(a.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? "" : str::trim(a.substr(sp));
  if (kind == "none") {
    if (!rest.empty() || !ins.flags.empty())
      return fail(err(ins, "HEALTHCHECK NONE takes no other arguments"));
    cfg.config.healthcheck = oci::Healthcheck{{"NONE"}, 0, 0, 0, 0};
    return {};
  }
  if (kind != "cmd") return fail(err(ins, "HEALTHCHECK: unknown type \"" + kind + "\" (CMD or NONE)"));
  if (rest.empty()) return fail(err(ins, "HEALTHCHECK CMD requires a command"));
  oci::Healthcheck hc;
  Instruction cmd = ins;
  cmd.args = std::string(rest);
  cmd.jsonForm = false;
  if (!rest.empty() && rest[0] == '[') {
    auto probe = parseDockerfile("CMD " + cmd.args + "\n");
    if (probe && probe->instructions[0].jsonForm) {
      hc.test = {"CMD"};
      for (auto& e : probe->instructions[0].json) hc.test.push_back(e);
    }
  }
  if (hc.test.empty()) hc.test = {"CMD-SHELL", cmd.args};
  for (auto& [k, v] : ins.flags) {
    if (k == "retries") {
      auto n = str::parseU64(v);
      if (!n || *n > 1000000) return fail(err(ins, "HEALTHCHECK --retries=" + v + ": not a number"));
      hc.retries = static_cast<int>(*n);
      continue;
    }
    auto d = parseDuration(v);
    if (!d || *d < 0) return fail(err(ins, "HEALTHCHECK --" + k + "=" + v + ": invalid duration"));
    if (k == "interval") hc.interval = *d;
    else if (k == "timeout") hc.timeout = *d;
    else if (k == "start-period") hc.startPeriod = *d;
    // start-interval: accepted; the image config has no field for it in berth's types.
  }
  (void)lx;
  cfg.config.healthcheck = hc;
  return {};
}

}  // namespace

VarMap StageVars::substitution(const oci::ImageConfig& cfg) const {
  VarMap m = args;
  for (auto& kv : cfg.config.env) {
    auto [k, v] = str::splitOnce(kv, '=');
    m[k] = v.value_or("");
  }
  return m;
}

std::vector<std::string> StageVars::runEnv(const oci::ImageConfig& cfg) const {
  std::vector<std::string> env = cfg.config.env;
  std::set<std::string> have;
  for (auto& kv : env) have.insert(str::splitOnce(kv, '=').first);
  for (auto& [k, v] : args)
    if (!have.count(k)) env.push_back(k + "=" + v), have.insert(k);
  if (!have.count("PATH")) env.insert(env.begin(), kDefaultPath);
  return env;
}

std::string StageVars::keyText() const {
  std::string s;
  for (auto& [k, v] : args) s += k + "=" + v + "\n";
  return s;
}

Result<void> applyArg(const Lexer& lx, const Instruction& ins, const VarMap& buildArgs,
                      const VarMap& globalArgs, const oci::ImageConfig& cfg, StageVars& vars) {
  auto words = lx.splitRaw(ins.args);
  if (!words) return fail(err(ins, words.error().message()));
  for (auto& w : *words) {
    auto [name, def] = str::splitOnce(w, '=');
    if (name.empty()) return fail(err(ins, "ARG requires a name: " + w));
    if (auto it = buildArgs.find(name); it != buildArgs.end()) {
      vars.args[name] = it->second;
    } else if (def) {
      auto v = lx.processWord(*def, vars.substitution(cfg));
      if (!v) return fail(err(ins, v.error().message()));
      vars.args[name] = *v;
    } else if (auto g = globalArgs.find(name); g != globalArgs.end()) {
      vars.args[name] = g->second;
    }
    // Declared without any value: stays unset (Docker's behaviour).
  }
  return {};
}

void setEnv(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  for (auto& kv : env)
    if (str::splitOnce(kv, '=').first == key) {
      kv = key + "=" + value;
      return;
    }
  env.push_back(key + "=" + value);
}

std::string resolveWorkdir(const std::string& current, const std::string& dir) {
  if (!dir.empty() && dir[0] == '/') return fs::clean(dir);
  return fs::clean(fs::join(current.empty() ? "/" : current, dir));
}

std::vector<std::string> commandOf(const Instruction& ins, const oci::ImageConfig& cfg) {
  if (ins.jsonForm) return ins.json;
  std::vector<std::string> cmd = cfg.config.shell.empty()
                                     ? std::vector<std::string>{"/bin/sh", "-c"}
                                     : cfg.config.shell;
  cmd.push_back(ins.heredocs.empty() ? ins.args : runScript(ins));
  return cmd;
}

std::string runScript(const Instruction& ins) {
  std::string_view a = str::trim(ins.args);
  if (ins.heredocs.size() == 1 && str::startsWith(a, "<<") &&
      a.find_first_of(" \t") == std::string_view::npos)
    return ins.heredocs[0].content;
  std::string s = ins.args + "\n";
  for (auto& h : ins.heredocs) s += h.content + h.name + "\n";
  return s;
}

std::optional<int64_t> parseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s == "0") return 0;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return std::nullopt;
    double n = std::strtod(std::string(s.substr(i, j - i)).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string_view unit = s.substr(j, k - j);
    double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "µs") mult = 1e3;
    else if (unit == "ms") mult = 1e6;
    else if (unit == "s") mult = 1e9;
    else if (unit == "m") mult = 60e9;
    else if (unit == "h") mult = 3600e9;
    else return std::nullopt;
    total += static_cast<int64_t>(n * mult);
    i = k;
  }
  return total;
}

Result<void> applyMetadata(const Lexer& lx, const Instruction& ins, const StageVars& vars,
                           oci::ImageConfig& cfg, bool& cmdSetHere) {
  const std::string& kw = ins.keyword;
  VarMap sub = vars.substitution(cfg);
  auto& c = cfg.config;
  if (kw == "ENV") {
    BERTH_ASSIGN(auto kvs, nameValues(lx, ins, sub));
    for (auto& [k, v] : kvs) setEnv(c.env, k, v);
  } else if (kw == "LABEL") {
    BERTH_ASSIGN(auto kvs, nameValues(lx, ins, sub));
    for (auto& [k, v] : kvs) c.labels[k] = v;
  } else if (kw == "MAINTAINER") {
    cfg.author = ins.args;
  } else if (kw == "EXPOSE") {
    BERTH_ASSIGN(auto ports, listArgs(lx, ins, sub));
    BERTH_TRY(expose(ins, ports, cfg));
  } else if (kw == "VOLUME") {
    BERTH_ASSIGN(auto vols, listArgs(lx, ins, sub));
    for (auto& v : vols) {
      if (v.empty()) return fail(err(ins, "VOLUME specified can not be an empty string"));
      addSorted(c.volumes, v[0] == '/' ? fs::clean(v) : resolveWorkdir(c.workingDir, v));
    }
  } else if (kw == "CMD") {
    c.cmd = commandOf(ins, cfg);
    cmdSetHere = true;
  } else if (kw == "ENTRYPOINT") {
    c.entrypoint = commandOf(ins, cfg);
    if (!cmdSetHere) c.cmd.clear();
  } else if (kw == "USER") {
    auto u = lx.processWord(ins.args, sub);
    if (!u) return fail(err(ins, u.error().message()));
    if (u->empty()) return fail(err(ins, "USER requires a user name or id"));
    c.user = *u;
  } else if (kw == "WORKDIR") {
    auto w = lx.processWord(ins.args, sub);
    if (!w) return fail(err(ins, w.error().message()));
    c.workingDir = resolveWorkdir(c.workingDir, *w);
  } else if (kw == "STOPSIGNAL") {
    auto s = lx.processWord(ins.args, sub);
    if (!s) return fail(err(ins, s.error().message()));
    std::string up = *s;
    std::transform(up.begin(), up.end(), up.begin(), ::toupper);
    bool numeric = str::parseU64(up).has_value() && *str::parseU64(up) > 0 && *str::parseU64(up) < 65;
    bool named = std::all_of(up.begin(), up.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-';
    }) && !up.empty() && std::isalpha(static_cast<unsigned char>(up[0]));
    if (!numeric && !named) return fail(err(ins, "STOPSIGNAL " + *s + ": invalid signal"));
    c.stopSignal = *s;
  } else if (kw == "HEALTHCHECK") {
    BERTH_TRY(healthcheck(lx, ins, cfg));
  } else if (kw == "SHELL") {
    if (!ins.jsonForm || ins.json.empty())
      return fail(err(ins, "SHELL requires the arguments to be in JSON form, e.g. [\"/bin/bash\", \"-c\"]"));
    c.shell = ins.json;
  } else if (kw == "ONBUILD") {
    std::string up = str::toLower(ins.args.substr(0, ins.args.find_first_of(" \t")));
    if (up == "onbuild" || up == "from" || up == "maintainer")
      return fail(err(ins, "ONBUILD " + up + " is not allowed"));
    auto probe = parseDockerfile(ins.args + "\n");
    if (!probe) return fail(err(ins, "ONBUILD: " + probe.error().message()));
    c.onBuild.push_back(ins.args);
  } else {
    return fail(err(ins, "internal: " + kw + " is not a metadata instruction"));
  }
  return {};
}

}  // namespace berth::build

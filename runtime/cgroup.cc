// cgroup layout detection and the v1 / v2 / hybrid drivers.
#include "runtime/cgroup.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <mutex>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace berth::runtime {
namespace {

const char* const kV1Controllers[] = {"cpu",     "cpuacct", "cpuset",  "memory",
                                      "devices", "freezer", "blkio",   "pids",
                                      "hugetlb", "net_cls", "net_prio", "perf_event"};

bool knownV1(std::string_view c) {
  for (auto* k : kV1Controllers)
    if (c == k) return true;
  return false;
}

/// "N:ctrl,ctrl:/path" lines -> controller -> path ("" key for the v2 line).
std::map<std::string, std::string> parseSelfCgroup(std::string_view text) {
  std::map<std::string, std::string> out;
  for (const auto& line : str::split(text, '\n')) {
    auto first = line.find(':');
    if (first == std::string::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string ctrls = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (ctrls.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& c : str::split(ctrls, ',')) out[c] = path;
  }
  return out;
}

std::string joinCg(const std::string& mount, const std::string& path) {
  return fs::clean(mount + "/" + path);
}

void sleepMs(int ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

/// Shared code of the three drivers.
class CgroupsBase : public Cgroups {
 public:
  CgroupsBase(Sys& sys, CgroupPaths paths) : sys_(sys), paths_(std::move(paths)) {}
  const CgroupPaths& paths() const override { return paths_; }

  Result<std::vector<pid_t>> pids() override {
    std::string dir = procsDir();
    if (dir.empty()) return std::vector<pid_t>{};
    auto text = sys_.readFile(dir + "/cgroup.procs");
    if (!text) {
      if (text.error().is(ENOENT)) return std::vector<pid_t>{};
      return fail(text.error());
    }
    std::vector<pid_t> out;
    for (const auto& l : str::split(*text, '\n'))
      if (auto v = str::parseU64(str::trim(l))) out.push_back(static_cast<pid_t>(*v));
    return out;
  }

  Result<void> destroy() override {
    // Kill leftovers (thawing first so SIGKILL is delivered), then rmdir with a bounded retry
    // while the kernel finishes tearing the tasks down.
    (void)freeze(false);
    bool detached = paths_.unified.empty();
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto p = pids();
      if (p && !p->empty())
        for (pid_t pid : *p) ::kill(pid, SIGKILL);
      if (!detached && p && p->empty()) {
        // rmdir would release the device program too, but only once the cgroup is freed.
        (void)sys_.clearDeviceFilter(paths_.unified);
        detached = true;
      }
      bool busy = false;
      for (const auto& d : dirs()) {
        auto r = sys_.rmdir(d);
        if (!r) {
          if (r.error().is(EBUSY)) busy = true;
          else return fail(r.error().context("remove cgroup"));
        }
      }
      if (!busy) return {};
      sleepMs(attempt < 20 ? 1 : 10);
    }
    return fail(ErrorCode::kTimeout, "remove cgroup: still busy");
  }

  Result<void> addProcess(pid_t pid) override {
    std::string p = std::to_string(pid);
    for (const auto& d : dirs()) BERTH_TRY_CTX(sys_.writeFile(d + "/cgroup.procs", p), "join cgroup");
    return {};
  }

 protected:
  /// Unique directories of this container, deepest last.
  std::vector<std::string> dirs() const {
    std::vector<std::string> out;
    for (const auto& [c, d] : paths_.v1)
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    if (!paths_.unified.empty()) out.push_back(paths_.unified);
    return out;
  }
  virtual std::string procsDir() const = 0;

  /// mkdir -p `dir` below `mount`, calling `each(parent, child)` for each created level.
  template <typename F>
  Result<void> mkdirTree(const std::string& mount, const std::string& dir, F each) {
    std::string rel = dir.substr(mount.size());
    std::string cur = mount;
    for (const auto& part : str::split(rel, '/')) {
      if (part.empty()) continue;
      std::string next = cur + "/" + part;
      bool existed = sys_.exists(next);
      BERTH_TRY_CTX(each(cur, next, existed), "cgroup " + next);
      if (!existed) BERTH_TRY(sys_.mkdir(next, 0755));
      cur = next;
    }
    return {};
  }

  Result<void> createV1() {
    for (const auto& [ctrl, dir] : paths_.v1) {
      std::string mount = v1Mounts_.count(ctrl) ? v1Mounts_[ctrl] : "";
      if (mount.empty() || !str::startsWith(dir, mount)) {
        BERTH_TRY(sys_.mkdir(dir, 0755));
        continue;
      }
      bool cpuset = ctrl == "cpuset";
      BERTH_TRY(mkdirTree(mount, dir, [&](const std::string& parent, const std::string& child,
                                          bool existed) -> Result<void> {
        if (!cpuset) return {};
        if (!existed) BERTH_TRY(sys_.mkdir(child, 0755));
        // A new cpuset starts empty and refuses tasks: inherit the parent's cpus and mems.
        for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
          auto cur = sys_.readFile(child + "/" + f);
          if (cur && !str::trim(*cur).empty()) continue;
          BERTH_ASSIGN(std::string v, sys_.readFile(parent + "/" + f));
          BERTH_TRY(sys_.writeFile(child + "/" + f, str::trim(v)));
        }
        return {};
      }));
    }
    return {};
  }

  Result<void> createV2(const std::set<std::string>& enable) {
    if (paths_.unified.empty()) return {};
    std::string mount = unifiedMount_;
    std::string want;
    for (const auto& c : enable) want += (want.empty() ? "+" : " +") + c;
    return mkdirTree(mount, paths_.unified,
                     [&](const std::string& parent, const std::string&, bool) -> Result<void> {
                       if (want.empty()) return {};
                       auto sub = sys_.readFile(parent + "/cgroup.subtree_control");
                       bool all = sub.has_value();
                       for (const auto& c : enable)
                         if (sub && sub->find(c) == std::string::npos) all = false;
                       if (all) return {};
                       return sys_.writeFile(parent + "/cgroup.subtree_control", want);
                     });
  }

  /// Write planned values; a write that fails is retried once after the others (ordering
  /// constraints such as memsw >= limit).
  Result<void> writeAll(const std::vector<CgroupWrite>& writes,
                        const std::map<std::string, std::string>& dirOf) {
    std::vector<const CgroupWrite*> retry;
    for (const auto& w : writes) {
      auto it = dirOf.find(w.controller);
      if (it == dirOf.end())
        return fail(ErrorCode::kUnsupported,
                    "cgroup controller \"" + w.controller + "\" is not available on this host");
      if (!sys_.writeFile(it->second + "/" + w.file, w.value)) retry.push_back(&w);
    }
    for (const auto* w : retry)
      BERTH_TRY_CTX(sys_.writeFile(dirOf.at(w->controller) + "/" + w->file, w->value),
                    "set cgroup limit");
    return {};
  }

  Result<void> freezeV1(bool frozen) {
    auto it = paths_.v1.find("freezer");
    if (it == paths_.v1.end()) return fail(ErrorCode::kUnsupported, "no freezer cgroup");
    BERTH_TRY(sys_.writeFile(it->second + "/freezer.state", frozen ? "FROZEN" : "THAWED"));
    for (int i = 0; i < 1000; ++i) {
      BERTH_ASSIGN(std::string st, sys_.readFile(it->second + "/freezer.state"));
      if (str::trim(st) == (frozen ? "FROZEN" : "THAWED")) return {};
      sleepMs(1);
    }
    return fail(ErrorCode::kTimeout, "freezer: state did not settle");
  }
  Result<void> freezeV2(bool frozen) {
    if (paths_.unified.empty()) return fail(ErrorCode::kUnsupported, "no cgroup v2 dir");
    return sys_.writeFile(paths_.unified + "/cgroup.freeze", frozen ? "1" : "0");
  }
  /// Attach the eBPF device program for `r.devices` to the cgroup2 dir (replacing the
  /// previous one). `optional`: on hybrid hosts the v1 devices controller enforces the rules
  /// as well, so a kernel that refuses BPF there (no CAP_BPF, no CGROUP_BPF) only gets a warning.
  Result<void> applyDeviceFilter(const oci::Resources& r, bool optional) {
    if (r.devices.empty() || paths_.unified.empty()) return {};
    BERTH_ASSIGN(BpfProgram prog, buildDeviceFilter(r.devices));
    auto res = sys_.setDeviceFilter(paths_.unified, prog);
    if (!res && optional &&
        (res.error().is(EPERM) || res.error().is(ENOSYS) || res.error().is(EOPNOTSUPP) ||
         res.error().is(EINVAL))) {
      log::warn("cgroup2 device program not attached (v1 devices controller still applies): " +
                res.error().message());
      return {};
    }
    if (!res) return fail(res.error().context("linux.resources.devices"));
    return {};
  }

  Result<bool> frozenV1() {
    auto it = paths_.v1.find("freezer");
    if (it == paths_.v1.end()) return false;
    auto st = sys_.readFile(it->second + "/freezer.state");
    if (!st) return false;
    return str::trim(*st) != "THAWED";
  }
  Result<bool> frozenV2() {
    auto ev = sys_.readFile(paths_.unified + "/cgroup.events");
    if (!ev) return false;
    return ev->find("frozen 1") != std::string::npos;
  }

  Sys& sys_;
  CgroupPaths paths_;

 public:
  std::map<std::string, std::string> v1Mounts_;
  std::string unifiedMount_;
};

class V1Cgroups final : public CgroupsBase {
 public:
  using CgroupsBase::CgroupsBase;
  Result<void> create() override { return createV1(); }
  Result<void> apply(const oci::Resources& r) override {
    BERTH_ASSIGN(auto w, planV1(r));
    if (!r.devices.empty()) BERTH_TRY(buildDeviceFilter(r.devices));  // same validation as v2
    return writeAll(w, paths_.v1);
  }
  Result<void> freeze(bool f) override { return freezeV1(f); }
  Result<bool> isFrozen() override { return frozenV1(); }

 private:
  std::string procsDir() const override {
    for (const char* c : {"pids", "memory", "freezer", "cpu"})
      if (auto it = paths_.v1.find(c); it != paths_.v1.end()) return it->second;
    return paths_.v1.empty() ? "" : paths_.v1.begin()->second;
  }
};

class V2Cgroups final : public CgroupsBase {
 public:
  V2Cgroups(Sys& sys, CgroupPaths p, std::set<std::string> ctrls)
      : CgroupsBase(sys, std::move(p)), ctrls_(std::move(ctrls)) {}
  Result<void> create() override { return createV2(ctrls_); }
  Result<void> apply(const oci::Resources& r) override {
    BERTH_ASSIGN(auto w, planV2(r));
    if (!r.devices.empty()) BERTH_TRY(buildDeviceFilter(r.devices));  // validate before writing
    std::map<std::string, std::string> dirOf;
    for (const auto& c : ctrls_) dirOf[c] = paths_.unified;
    for (const auto& x : w)
      if (x.controller == "cgroup") dirOf["cgroup"] = paths_.unified;
    BERTH_TRY(writeAll(w, dirOf));
    return applyDeviceFilter(r, false);
  }
  Result<void> freeze(bool f) override { return freezeV2(f); }
  Result<bool> isFrozen() override { return frozenV2(); }

 private:
  std::string procsDir() const override { return paths_.unified; }
  std::set<std::string> ctrls_;
};

/// Hybrid: v1 drives every controller mounted there; cgroup2 (unified) drives what exists
/// only there (hugetlb on these hosts) and tracks the processes.
class HybridCgroups final : public CgroupsBase {
 public:
  HybridCgroups(Sys& sys, CgroupPaths p, std::set<std::string> v2Only)
      : CgroupsBase(sys, std::move(p)), v2Only_(std::move(v2Only)) {}
  Result<void> create() override {
    BERTH_TRY(createV1());
    return createV2(v2Only_);
  }
  Result<void> apply(const oci::Resources& r) override {
    BERTH_ASSIGN(auto v1, planV1(r));
    BERTH_ASSIGN(auto v2, planV2(r));
    std::vector<CgroupWrite> mine;
    std::map<std::string, std::string> dirOf = paths_.v1;
    for (const auto& w : v1)
      if (paths_.v1.count(w.controller) || !v2Only_.count(w.controller)) mine.push_back(w);
    for (const auto& w : v2)
      if (v2Only_.count(w.controller) && !paths_.v1.count(w.controller)) {
        mine.push_back(w);
        dirOf[w.controller] = paths_.unified;
      }
    if (!r.devices.empty()) BERTH_TRY(buildDeviceFilter(r.devices));  // validate before writing
    BERTH_TRY(writeAll(mine, dirOf));
    return applyDeviceFilter(r, true);
  }
  Result<void> freeze(bool f) override {
    return paths_.v1.count("freezer") ? freezeV1(f) : freezeV2(f);
  }
  Result<bool> isFrozen() override {
    return paths_.v1.count("freezer") ? frozenV1() : frozenV2();
  }

 private:
  std::string procsDir() const override {
    for (const char* c : {"pids", "memory", "freezer"})
      if (auto it = paths_.v1.find(c); it != paths_.v1.end()) return it->second;
    return paths_.unified;
  }
  std::set<std::string> v2Only_;
};

}  // namespace

std::string_view cgroupModeName(CgroupMode m) {
  switch (m) {
    case CgroupMode::kV1: return "v1";
    case CgroupMode::kV2: return "v2";
    case CgroupMode::kHybrid: return "hybrid";
  }
  return "?";
}

CgroupLayout parseCgroupLayout(std::string_view mountinfo, Sys& sys) {
  CgroupLayout l;
  for (const auto& line : str::split(mountinfo, '\n')) {
    // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = str::split(line.substr(0, dash), ' ');
    auto right = str::split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    const std::string& mp = left[4];
    if (right[0] == "cgroup2") {
      if (l.unified.empty()) l.unified = mp;
    } else if (right[0] == "cgroup") {
      for (const auto& opt : str::split(right[2], ','))
        if (knownV1(opt) && !l.v1.count(opt)) l.v1[opt] = mp;
    }
  }
  if (!l.unified.empty()) {
    if (auto c = sys.readFile(l.unified + "/cgroup.controllers"))
      for (const auto& x : str::split(str::trim(*c), ' '))
        if (!x.empty()) l.v2Controllers.insert(x);
  }
  if (l.v1.empty()) l.mode = CgroupMode::kV2;
  else if (l.unified.empty()) l.mode = CgroupMode::kV1;
  else l.mode = CgroupMode::kHybrid;
  return l;
}

Result<CgroupLayout> detectCgroupLayout(Sys& sys) {
  static std::mutex mu;
  static std::optional<CgroupLayout> cached;
  std::lock_guard lock(mu);
  if (cached) return *cached;
  BERTH_ASSIGN(std::string mi, sys.readFile("/proc/self/mountinfo"));
  cached = parseCgroupLayout(mi, sys);
  if (cached->v1.empty() && cached->unified.empty())
    return fail(ErrorCode::kUnsupported, "no cgroup file system mounted");
  return *cached;
}

Result<std::unique_ptr<Cgroups>> openCgroups(Sys& sys, const CgroupLayout& layout,
                                             const std::string& cgroupsPath,
                                             const std::string& id,
                                             std::string_view selfCgroup) {
  std::string path = cgroupsPath.empty() ? "/berth/" + id : cgroupsPath;
  if (path.find(':') != std::string::npos)
    return fail(ErrorCode::kUnsupported,
                "cgroupsPath \"" + path + "\": systemd cgroup paths (slice:prefix:name) are "
                "not supported; use a cgroupfs path");
  if (!fs::staysInside(str::startsWith(path, "/") ? path.substr(1) : path))
    return fail(ErrorCode::kInvalidArgument, "cgroupsPath \"" + path + "\": escapes the hierarchy");
  bool relative = path[0] != '/';
  auto self = parseSelfCgroup(selfCgroup);
  auto resolve = [&](const std::string& mount, const std::string& key) {
    std::string base = relative && self.count(key) ? self[key] : "/";
    return joinCg(mount, base + "/" + path);
  };
  CgroupPaths p;
  p.mode = layout.mode;
  for (const auto& [ctrl, mount] : layout.v1) p.v1[ctrl] = resolve(mount, ctrl);
  if (!layout.unified.empty()) p.unified = resolve(layout.unified, "");
  std::unique_ptr<CgroupsBase> cg;
  switch (layout.mode) {
    case CgroupMode::kV1:
      cg = std::make_unique<V1Cgroups>(sys, p);
      break;
    case CgroupMode::kV2:
      cg = std::make_unique<V2Cgroups>(sys, p, layout.v2Controllers);
      break;
    case CgroupMode::kHybrid: {
      std::set<std::string> v2Only;
      for (const auto& c : layout.v2Controllers)
        if (!layout.v1.count(c)) v2Only.insert(c);
      cg = std::make_unique<HybridCgroups>(sys, p, v2Only);
      break;
    }
  }
  cg->v1Mounts_ = layout.v1;
  cg->unifiedMount_ = layout.unified;
  return std::unique_ptr<Cgroups>(std::move(cg));
}

std::unique_ptr<Cgroups> openCgroups(Sys& sys, const CgroupPaths& paths) {
  std::set<std::string> v2, v2Only;
  std::map<std::string, std::string> v1Mounts;
  if (auto layout = detectCgroupLayout(sys)) {
    v2 = layout->v2Controllers;
    v1Mounts = layout->v1;
    for (const auto& c : v2)
      if (!layout->v1.count(c)) v2Only.insert(c);
  }
  std::unique_ptr<CgroupsBase> cg;
  switch (paths.mode) {
    case CgroupMode::kV1: cg = std::make_unique<V1Cgroups>(sys, paths); break;
    case CgroupMode::kV2: cg = std::make_unique<V2Cgroups>(sys, paths, v2); break;
    case CgroupMode::kHybrid: cg = std::make_unique<HybridCgroups>(sys, paths, v2Only); break;
  }
  cg->v1Mounts_ = v1Mounts;
  return cg;
}

}  // namespace berth::runtime

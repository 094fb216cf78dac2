// RUN and the overlay plumbing every file-system step shares.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "builder/build_steps.h"
#include "builder/rootfs_ops.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/scoped_pid.h"
#include "common/strings.h"
#include "image/overlay.h"

namespace berth::build {
namespace {

/// Docker's default capability set for containers (and so for RUN steps).
const std::vector<std::string> kBuildCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",     "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

struct TempDirGuard {
  std::string path;
  ~TempDirGuard() {
    if (!path.empty()) (void)fs::removeAll(path);
  }
};

struct MountGuard {
  std::string target;
  ~MountGuard() {
    if (!target.empty()) (void)image::unmount(target);
  }
  Result<void> release() {
    std::string t = std::move(target);
    target.clear();
    return image::unmount(t);
  }
};

/// The runtime creates missing mount points (/proc, /sys, /dev) in the rootfs; they are not
/// the step's doing, so they do not belong in its layer.
void dropMountpointArtefacts(const std::string& upper, const std::vector<std::string>& lowers) {
  for (const char* name : {"proc", "sys", "dev"}) {
    std::string p = upper + "/" + name;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    bool inLower = false;
    for (auto& l : lowers) inLower |= fs::exists(l + "/" + name);
    auto names = fs::listDir(p);
    if (!inLower && names && names->empty()) ::rmdir(p.c_str());
  }
}

bool dirEmpty(const std::string& dir) {
  auto names = fs::listDir(dir);
  return names && names->empty();
}

}  // namespace

Result<std::vector<std::string>> lowerDirs(Session& s, const StageState& st) {
  if (st.layers.empty()) return std::vector<std::string>{};
  image::Image img;
  img.id = "build-state";
  img.config.rootfs.diffIds.clear();
  for (auto& l : st.layers) {
    img.layers.push_back(l.descriptor);
    img.config.rootfs.diffIds.push_back(l.diffId);
  }
  return s.store.snapshotDirs(img);
}

Result<std::optional<image::Layer>> withMutableRootfs(
    Session& s, const StageState& st, const std::function<Result<void>(const std::string&)>& fn) {
  BERTH_ASSIGN(auto lowers, lowerDirs(s, st));
  BERTH_ASSIGN(std::string tmp, s.store.makeTempDir("build-"));
  TempDirGuard tg{tmp};
  std::string upper = tmp + "/upper", work = tmp + "/work", merged = tmp + "/merged";
  for (auto* d : {&upper, &work, &merged}) BERTH_TRY(fs::mkdirs(*d, 0755));
  ::chmod(upper.c_str(), 0755);
  BERTH_TRY_CTX(image::mountOverlay(lowers, upper, work, merged), "mount build rootfs");
  MountGuard mg{merged};
  auto r = fn(merged);
  auto u = mg.release();
  if (!r) return fail(r.error());
  if (!u) return fail(u.error().context("unmount build rootfs"));
  dropMountpointArtefacts(upper, lowers);
  if (dirEmpty(upper)) return std::optional<image::Layer>();
  BERTH_ASSIGN(image::Layer layer, s.store.commitLayerFromDir(upper));
  return std::optional<image::Layer>(std::move(layer));
}

Result<std::string> mountReadOnly(Session& s, const StageState& st,
                                  std::vector<std::string>& mounts) {
  BERTH_ASSIGN(auto lowers, lowerDirs(s, st));
  if (lowers.size() == 1) return lowers[0];  // one snapshot is already the whole tree
  BERTH_ASSIGN(std::string tmp, s.store.makeTempDir("build-from-"));
  mounts.push_back("D:" + tmp);
  std::string merged = tmp + "/merged";
  BERTH_TRY(fs::mkdirs(merged, 0755));
  if (lowers.empty()) return merged;
  BERTH_TRY_CTX(image::mountOverlay(lowers, "", "", merged), "mount --from rootfs");
  mounts.push_back("M:" + merged);
  return merged;
}

void releaseMounts(std::vector<std::string>& mounts) {
  // Unmount first (reverse order), then remove the dirs.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
    if (str::startsWith(*it, "M:")) (void)image::unmount(it->substr(2));
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
    if (str::startsWith(*it, "D:")) (void)fs::removeAll(it->substr(2));
  mounts.clear();
}

Result<void> runContainer(Session& s, const StageState& st, const Instruction& ins,
                          const std::string& merged, const std::vector<std::string>& argv) {
  if (ins.flag("mount"))
    return fail(ErrorCode::kUnsupported, "RUN --mount is not supported by berth build");
  if (const auto* sec = ins.flag("security"); sec && *sec != "sandbox")
    return fail(ErrorCode::kUnsupported, "RUN --security=" + *sec + " is not supported");
  bool ownNet = false;
  if (const auto* net = ins.flag("network")) {
    if (*net == "none") ownNet = true;
    else if (*net != "host" && *net != "default" && !net->empty())
      return fail(ErrorCode::kInvalidArgument, "RUN --network=" + *net + ": use default, host or none");
  }

  UniqueFd rootFd(::open(merged.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootFd) return failErrno("open " + merged);
  uid_t uid = 0;
  gid_t gid = 0;
  if (!st.config.config.user.empty()) {
    BERTH_ASSIGN(auto ug, rootfs::lookupUser(rootFd.get(), st.config.config.user));
    uid = ug.first;
    gid = ug.second;
  }
  std::string cwd = st.config.config.workingDir.empty() ? "/" : st.config.config.workingDir;
  BERTH_TRY_CTX(rootfs::openDir(rootFd.get(), cwd, true), "working directory " + cwd);

  oci::Spec spec = oci::defaultSpec();
  spec.root = oci::Root{merged, false};
  spec.hostname = "berth-build";
  auto& p = *spec.process;
  p.terminal = false;
  p.args = argv;
  p.env = st.vars.runEnv(st.config);
  p.cwd = cwd;
  p.user.uid = uid;
  p.user.gid = gid;
  p.noNewPrivileges = false;
  oci::Capabilities caps;
  caps.bounding = caps.effective = caps.permitted = kBuildCaps;
  p.capabilities = caps;
  if (spec.linux) {
    auto& ns = spec.linux->namespaces;
    if (!ownNet)
      ns.erase(std::remove_if(ns.begin(), ns.end(),
                              [](const oci::Namespace& n) {
                                return n.type == oci::NamespaceType::kNetwork;
                              }),
               ns.end());
  }
  std::string id = "berth-build-" + str::randomHex(8);
  if (spec.linux) {
    spec.linux->cgroupsPath.clear();  // the runtime default: /berth/<id>
    // Docker's device rules: deny all, mknod of any, rwm of the standard nodes. (Deny-all
    // alone also stops the runtime's own mknod of /dev/null on v1 hosts.)
    auto rule = [](bool allow, std::string type, std::optional<int64_t> major,
                   std::optional<int64_t> minor, std::string access) {
      oci::DeviceCgroupRule r;
      r.allow = allow;
      r.type = std::move(type);
      r.major = major;
      r.minor = minor;
      r.access = std::move(access);
      return r;
    };
    std::vector<oci::DeviceCgroupRule> rules = {rule(false, "", {}, {}, "rwm"),
                                                rule(true, "c", {}, {}, "m"),
                                                rule(true, "b", {}, {}, "m")};
    for (auto [mj, mn] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}})
      rules.push_back(rule(true, "c", mj, mn, "rwm"));
    rules.push_back(rule(true, "c", 136, {}, "rwm"));  // /dev/pts/*
    if (!spec.linux->resources) spec.linux->resources = oci::Resources{};
    spec.linux->resources->devices = rules;
  }

  UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd capture;
  runtime::CreateOptions co;
  co.id = id;
  co.bundle = merged.substr(0, merged.rfind('/'));
  co.spec = std::make_shared<const oci::Spec>(std::move(spec));
  co.stdio.in = devNull.get();
  if (s.opts.quiet) {
    capture.reset(::memfd_create("berth-build-run", MFD_CLOEXEC));
    if (!capture) return failErrno("memfd_create");
    co.stdio.out = co.stdio.err = capture.get();
  } else {
    std::fflush(s.opts.out);
    co.stdio.out = ::fileno(s.opts.out);
    co.stdio.err = ::fileno(s.opts.out);
  }
  BERTH_TRY_CTX(s.rt.create(co), "create build container");
  struct Remover {
    runtime::Runtime& rt;
    std::string id;
    ~Remover() { (void)rt.remove(id, true); }
  } remover{s.rt, id};
  BERTH_ASSIGN(runtime::State state, s.rt.state(id));
  ScopedPid init(state.pid);
  BERTH_TRY_CTX(s.rt.start(id), "start build container");
  ++s.result.runsExecuted;
  BERTH_ASSIGN(int status, init.wait());
  int code = exitCodeFromStatus(status);
  if (code != 0) {
    if (capture) {
      // -q hid the output; show it now that it explains the failure.
      ::lseek(capture.get(), 0, SEEK_SET);
      char buf[8192];
      ssize_t n;
      while ((n = ::read(capture.get(), buf, sizeof buf)) > 0)
        (void)!::write(STDERR_FILENO, buf, static_cast<size_t>(n));
    }
    std::string shown = ins.original.size() > 80 ? ins.original.substr(0, 77) + "..." : ins.original;
    return fail(ErrorCode::kFailedPrecondition,
                shown + ": process exited with code " + std::to_string(code));
  }
  return {};
}

}  // namespace berth::build

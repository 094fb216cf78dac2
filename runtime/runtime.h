#pragma once
/// berth::runtime::Runtime — the OCI runtime as a library. `berth-runtime` (runc's command
/// line) and `berth runtime ...` are thin front ends over it; the engine's per-container
/// monitor and the Dockerfile builder call it in-process.
///
/// Process model (what in-process callers rely on):
///  - create() forks the container init as a DIRECT CHILD of the calling process (the caller
///    may waitpid() it). The init sets up namespaces, mounts, cgroups, ... and then blocks,
///    before exec'ing the user program, until start() is called for the id (from this or any
///    other process: the state dir holds an exec fifo, runc's pattern).
///  - No signal handlers, no process-wide state changes (cwd, umask, env, ...) in the caller.
///  - Nothing leaks on error: a failed create leaves no state dir, cgroup, mount or process.
///  - Thread-safe for different ids; operations on one id are serialised by a lock file.
///
/// Status lifecycle per the OCI runtime spec: creating -> created -> running -> stopped,
/// plus "paused" (runc's extension, reported while the cgroup is frozen).

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

/// Standard streams for the container process. -1: inherit the caller's 0/1/2.
struct Stdio {
  int in = -1, out = -1, err = -1;
};

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
std::string_view statusName(Status s);

/// The OCI state of a container (what `state` prints) plus what list/ps need.
struct State {
  std::string ociVersion = oci::kOciVersion;
  std::string id;
  Status status = Status::kStopped;
  pid_t pid = 0;  ///< host pid of the init; 0 once stopped
  std::string bundle;
  std::string rootfs;
  std::string created;  ///< RFC 3339 creation time
  std::string owner;    ///< "" for root
  std::map<std::string, std::string> annotations;

  bool canStart() const { return status == Status::kCreated; }
  bool canKill() const { return status == Status::kCreated || status == Status::kRunning ||
                                status == Status::kPaused; }
  bool canDelete() const { return status == Status::kStopped || status == Status::kCreated; }
  bool canPause() const { return status == Status::kRunning; }
  bool canResume() const { return status == Status::kPaused; }
  bool canExec() const { return status == Status::kRunning || status == Status::kCreated; }
};

/// OCI state JSON (id, status, pid, bundle, annotations, ociVersion), as `state` prints it.
std::string stateToJson(const State& s, bool pretty = true);

struct CreateOptions {
  std::string id;      ///< [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 chars
  std::string bundle;  ///< absolute directory holding config.json
  std::string pidFile;        ///< write the init's host pid here (atomic), if set
  std::string consoleSocket;  ///< unix socket to send the pty master to (process.terminal)
  /// Instead of consoleSocket: a connected unix socket (e.g. one end of a socketpair) the pty
  /// master is sent on; for in-process callers. Not closed by the runtime.
  int consoleSocketFd = -1;
  bool noPivot = false;       ///< chroot instead of pivot_root (e.g. rootfs on ramfs)
  int preserveFds = 0;        ///< pass fds 3..3+n-1 through to the container
  Stdio stdio;
  /// Use this spec instead of reading <bundle>/config.json (bundle still names the state's
  /// bundle and anchors a relative root.path). For in-process callers that build the spec.
  std::shared_ptr<const oci::Spec> spec;
  /// The init may start in the caller's memory (CLONE_VM|CLONE_VFORK) when the spec allows
  /// (runtime/create.cc). Its exec stub then waits on the exec fifo after the seccomp filter is
  /// loaded, so set this only if that filter allows open, write, close and execve.
  bool vforkInit = false;
};

struct ExecOptions {
  /// The process to run; if unset, `args` (+ env/cwd/user/caps below) describe it and the
  /// rest is taken from the container's own process spec.
  std::shared_ptr<const oci::Process> process;
  std::vector<std::string> args;
  std::vector<std::string> env;  ///< added to/overriding the container's env (KEY=VALUE)
  std::string cwd;               ///< default: the container's cwd
  std::optional<uint32_t> uid, gid;
  std::vector<uint32_t> additionalGids;
  std::vector<std::string> addCaps;  ///< added to every capability set
  bool tty = false;
  std::string consoleSocket;  ///< required with tty: receives the pty master
  int consoleSocketFd = -1;   ///< or a connected socket, as CreateOptions::consoleSocketFd
  std::string pidFile;
  int preserveFds = 0;
  Stdio stdio;
};

struct ProcessInfo {
  pid_t pid = 0;
};

struct UpdateOptions {
  oci::Resources resources;
};

class Runtime {
 public:
  /// `stateRoot` holds one directory per container (e.g. /run/berth/runtime); created on
  /// first use with mode 0700.
  explicit Runtime(std::string stateRoot);
  ~Runtime();
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;

  /// Create the container: state "created", init blocked before exec. Errors: invalid id,
  /// kAlreadyExists, bad config (one line naming the field), missing rootfs, any setup step
  /// that failed inside the init (its message is passed back). On error nothing remains.
  Result<void> create(const CreateOptions& opts);
  /// Let a created container's init exec the user program; runs poststart hooks.
  /// Errors: kNotFound, kFailedPrecondition (not "created").
  Result<void> start(const std::string& id);
  /// Current state; status is computed from the live process and cgroup, not cached.
  Result<State> state(const std::string& id);
  /// Send `sig` to the init (or with all=true to every process of the container's cgroup).
  Result<void> kill(const std::string& id, int sig, bool all = false);
  /// Delete a stopped (or created) container: cgroups, state dir; runs poststop hooks.
  /// force=true kills a running container first.
  Result<void> remove(const std::string& id, bool force = false);
  /// Freeze / thaw the container's cgroup.
  Result<void> pause(const std::string& id);
  Result<void> resume(const std::string& id);
  /// Every container under the state root, sorted by id.
  Result<std::vector<State>> list();
  /// Start an extra process in a running container; it is a direct child of the caller.
  Result<pid_t> exec(const std::string& id, const ExecOptions& opts);
  /// Host pids of every process in the container's cgroup.
  Result<std::vector<pid_t>> pids(const std::string& id);
  /// Change the container's cgroup limits.
  Result<void> update(const std::string& id, const oci::Resources& resources);
  /// The container's config (as it was at create).
  Result<oci::Spec> spec(const std::string& id);

  const std::string& stateRoot() const { return root_; }

 private:
  std::string root_;
};

/// True if `id` is a valid container id (no '/', no "..", printable, not empty).
bool validContainerId(std::string_view id);

/// The OCI `features` document (runtime-spec features.md) as JSON text.
std::string featuresJson();

}  // namespace berth::runtime

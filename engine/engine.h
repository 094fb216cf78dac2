#pragma once
/// berth::engine::Engine — containers from images, daemonless. Each `berth` command opens an
/// Engine on <root>/<runroot>, does one verb and exits. Records live in SQLite; a detached
/// per-container monitor (`berth __monitor`, see monitor.h) runs each container's init.
///
/// Every verb first reconciles the records it reads with the machine (a monitor or init that
/// died under kill -9 turns "running" into "exited"; an interrupted create or rm becomes
/// "dead"), then checks the lifecycle predicate, then acts. Errors are one line; the CLI maps
/// them to exit code 125.

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "engine/paths.h"
#include "engine/procs.h"
#include "engine/record.h"
#include "engine/record_store.h"
#include "engine/run_flags.h"
#include "network/network.h"

namespace berth::runtime {
class Runtime;
}

namespace berth::engine {

/// How a CLI attaches to a container it starts.
struct StartIo {
  bool attach = false;  ///< foreground: output also goes to our stdout/stderr, exit code back
  bool interactive = false;  ///< pass our stdin to the container
};

struct ExecRequest {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string user, workdir;
  bool tty = false, interactive = false, detach = false;
};

struct ExecResult {
  int exitCode = 0;
  std::string error;  ///< set (with 126 or 127) when the command could not be run
};

struct LogOptions {
  bool follow = false, timestamps = false;
  int64_t tail = -1;       ///< -1: all
  int64_t sinceNs = 0, untilNs = 0;
};

struct Stats {
  std::string id, name;
  double cpuPercent = 0;
  int64_t memUsage = 0, memLimit = 0;
  int64_t pids = 0;
  int64_t netRx = 0, netTx = 0;
  int64_t blockRead = 0, blockWrite = 0;
};

struct PruneReport {
  std::vector<std::string> containers, networks, volumes, images;
  int64_t bytes = 0;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(const std::string& root, const std::string& runroot);
  ~Engine();

  const Paths& paths() const { return paths_; }
  RecordStore& records() { return *store_; }
  /// Close the record store (its SQLite handle) / open it again. The monitor closes it before
  /// it execs berth-monitor: it runs in its parent's memory (see spawnMonitor), where SQLite's
  /// per-process lock bookkeeping must be left as the parent had it.
  void closeRecords() { store_.reset(); }
  Result<void> reopenRecords();
  network::NetworkStore& networks() { return *nets_; }
  runtime::Runtime& runtime();

  // ---- lifecycle (engine.cc) ----
  /// Validate, resolve the image, write the record (state created). Nothing is left on error.
  Result<Record> create(const RunFlags& flags);
  /// Spawn the monitor, which sets up network + rootfs and starts the init. Returns once the
  /// container runs (or failed to start: the error, with exit code 125/126/127 in exitCode).
  /// With io.attach, `exitPipe` receives the read end the monitor writes the exit code to.
  Result<void> start(const std::string& ref, const StartIo& io, UniqueFd* exitPipe,
                     int* exitCode = nullptr);
  /// Read the exit code the monitor sends on an attach pipe (falls back to the record).
  int waitAttached(UniqueFd& exitPipe, const std::string& id);
  /// For an attached CLI told "exit CODE UNHEALTHY" by the monitor: finish the exit here
  /// (runtime delete, teardown, record, --rm) so the monitor need not exec the engine. False
  /// (and nothing done) when the container may restart: the monitor keeps it.
  bool finishExit(const std::string& id, int exitCode, bool unhealthyKill);
  /// Stop signal, then SIGKILL after `timeout` seconds (default: the container's).
  Result<Record> stop(const std::string& ref, std::optional<int> timeout);
  Result<Record> kill(const std::string& ref, int sig);
  Result<Record> restart(const std::string& ref, std::optional<int> timeout);
  Result<Record> pause(const std::string& ref);
  Result<Record> unpause(const std::string& ref);
  /// rm: force stops a running one; volumes removes its anonymous volumes.
  Result<Record> remove(const std::string& ref, bool force, bool volumes);
  /// Block until the container is not running; its exit code.
  Result<int> wait(const std::string& ref);
  Result<void> rename(const std::string& ref, const std::string& newName);
  /// Exit code of the command; 126/127 with `error` set when it cannot be run.
  Result<ExecResult> exec(const std::string& ref, const ExecRequest& req);

  // ---- queries (query.cc) ----
  /// A record, reconciled with the machine.
  Result<Record> get(const std::string& ref);
  Result<std::vector<Record>> list();
  Result<void> logs(const std::string& ref, const LogOptions& opts,
                    const std::function<void(const std::string& stream, const std::string& text)>& out);
  Result<std::vector<ProcInfo>> top(const std::string& ref);
  Result<Stats> stats(const Record& r, int sampleMs);
  std::string inspectJson(const Record& r);

  // ---- volumes, networks, prune (objects.cc) ----
  Result<VolumeRecord> volumeCreate(const std::string& name,
                                    const std::map<std::string, std::string>& labels);
  Result<void> volumeRemove(const std::string& name, bool force);
  /// Names of volumes no container (of any state) uses.
  Result<std::vector<std::string>> unusedVolumes();
  Result<network::NetworkInfo> networkCreate(const std::string& name, const std::string& subnet,
                                             bool internal,
                                             const std::map<std::string, std::string>& labels);
  Result<void> networkRemove(const std::string& name);
  Result<void> networkConnect(const std::string& net, const std::string& ref,
                              const std::vector<std::string>& aliases);
  Result<void> networkDisconnect(const std::string& net, const std::string& ref);
  /// Containers (ids) attached to or configured for `net`.
  Result<std::vector<std::string>> networkUsers(const std::string& net);
  Result<PruneReport> systemPrune(bool all, bool volumes);

  // ---- cp (cp.cc) ----
  /// `berth cp`: exactly one of src/dst is "CONTAINER:PATH". Paths inside the container are
  /// resolved with RESOLVE_IN_ROOT, never following a symlink out of the rootfs.
  Result<void> copy(const std::string& src, const std::string& dst);

  // ---- used by the monitor (monitor.cc) and by rm ----
  /// Network, rootfs mount, hosts files: everything the init needs. Idempotent.
  Result<void> setupRuntimeEnv(Record& r);
  /// Undo setupRuntimeEnv and remove the runtime's container. Idempotent; missing parts fine.
  Result<void> teardownRuntimeEnv(Record& r);
  /// Delete files, anonymous volumes (if asked), lease and record.
  Result<void> deleteContainer(const Record& r, bool volumes);
  /// Rewrite /etc/hosts of every running container on `r`'s networks (and r's own).
  void refreshHosts(const std::string& exceptId = {});
  /// Reconcile one record with /proc; writes the fixed state back. Returns the truth.
  Record reconcile(Record r);

 private:
  Engine(Paths p, std::unique_ptr<RecordStore> s);
  Result<void> spawnMonitor(const Record& r, const StartIo& io, UniqueFd& syncRead,
                            UniqueFd* exitRead);
  Result<void> ensureVolume(const std::string& name, bool anonymous);
  Paths paths_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<network::NetworkStore> nets_;
  std::unique_ptr<runtime::Runtime> runtime_;
};

/// The monitor's start (run in a double-forked, setsid child of `start`; monitor.cc): claims
/// the record, sets up, starts the init, answers on fd 3, then execs `berth-monitor`. Returns
/// (the process's exit status) only when the start failed.
int runMonitor(const std::string& root, const std::string& runroot, const std::string& id,
               bool attach, bool interactive);
/// The hidden `berth __monitor-exit ROOT RUNROOT ID ATTACH CODE BACKOFF STARTED UNHEALTHY`
/// (ATTACH: detach, attach, or attach-stdin when the CLI's stdin goes into the pty),
/// exec'd by berth-monitor in the same process when the init exited: records the exit,
/// restarts (and execs berth-monitor again) or tears down; its return value is the exit status.
int runMonitorExit(const std::string& root, const std::string& runroot, const std::string& id,
                   bool attach, bool interactive, int exitCode, int64_t backoffMs,
                   int64_t startedMs, bool unhealthyKill);

/// "Up 3 minutes", "Exited (0) 2 seconds ago" for ps.
std::string statusText(const Record& r, int64_t nowNs);

}  // namespace berth::engine

#pragma once
/// Cluster: the replicas of one service and every policy applied to them - membership
/// (static, DNS, admin), load balancing, active health and outlier state, resource thresholds,
/// the failure-rate breaker and statistics. Thread-safe: every method takes the cluster's lock
/// (one short critical section per call; the data path makes a handful per request).

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "mesh/breaker.h"
#include "mesh/clock.h"
#include "mesh/config.h"
#include "mesh/health.h"
#include "mesh/host.h"
#include "mesh/load_balancer.h"
#include "mesh/stats.h"

namespace berth::mesh {

/// Why the proxy answered without (or after failing to get) an upstream response. The text
/// goes in the x-berth-reason response header.
enum class Reject {
  kNone,
  kNoHealthyHost,    ///< 503 no-healthy-host
  kBreakerOpen,      ///< 503 breaker-open
  kMaxRequests,      ///< 503 overflow-requests
  kMaxPending,       ///< 503 overflow-pending
  kMaxConnections,   ///< 503 overflow-connections
  kMaxRetries,       ///< retry not made (overflow-retries)
  kRetryBudget,      ///< retry not made (retry-budget)
};
const char* rejectName(Reject r);

class Cluster {
 public:
  /// One upstream attempt in progress.
  struct Attempt {
    HostPtr host;
    FailureBreaker::Permit permit;
    Reject reject = Reject::kNone;
    bool retry = false;
    explicit operator bool() const { return host != nullptr; }
  };

  Cluster(ClusterConfig cfg, const Clock& clock, uint64_t seed);

  const std::string& name() const { return name_; }
  /// Copy of the current config (it may change on reload).
  ClusterConfig config() const;
  /// The few settings the data path needs per request (cheaper than config()).
  struct DataPathParams {
    Duration connectTimeout;
    uint32_t maxIdle = 0;
    bool ringHash = false;
    bool h2c = false;
    std::string hashHeader;
  };
  DataPathParams dataPathParams() const;

  /// Admit a downstream request (max_requests). On kNone the caller must call endRequest.
  Reject beginRequest();
  /// A request waiting for a connection slot (max_connections reached). When an attempt ends,
  /// its slot goes to the oldest waiter: the cluster marks the waiter granted and calls
  /// onGranted() under its lock, which must only schedule a wake-up (never call back into the
  /// cluster). No polling: a waiter sleeps until it is granted or its deadline passes.
  class PendingWaiter {
   public:
    virtual ~PendingWaiter() = default;
    virtual void onGranted() = 0;

   private:
    friend class Cluster;
    bool granted_ = false;  // guarded by the cluster's lock
  };
  enum class Pending { kGranted, kQueued, kOverflow };
  /// beginAttempt() said kMaxConnections: take a slot now if one has come free (kGranted), else
  /// join the queue (kQueued: call leavePending() once woken or timed out), or kOverflow (503
  /// overflow-pending, counted) when max_pending_requests are already waiting. After kGranted
  /// (or leavePending() returning true) the caller holds a connection slot and passes
  /// slotHeld = true to beginAttempt().
  Pending enqueuePending(const std::shared_ptr<PendingWaiter>& w);
  /// Leave the pending queue (woken, or deadline passed). True if a slot was handed over.
  bool leavePending(PendingWaiter& w);
  /// Give back a slot handed over by the queue that will not be used.
  void releaseGrantedSlot();
  /// Requests waiting for a connection slot now.
  size_t pendingCount() const;
  /// Count a response the proxy sent for a request beginRequest() refused.
  void countResponse(int status);
  /// Finish a request with the status sent downstream and its timings.
  void endRequest(int status, Duration total, Duration lastUpstream);

  /// Pick a host for an attempt. A retry also takes a max_retries slot. `avoid` (the host of
  /// the previous try) is skipped when another host is available. `slotHeld`: the caller was
  /// granted a connection slot by the pending queue (on failure it is passed on).
  Attempt beginAttempt(const LbContext& ctx, const Host* avoid, bool retry, bool slotHeld = false);
  /// Report how an attempt ended (`rtt` from sending to the full response).
  void endAttempt(Attempt& a, Outcome o, int status, Duration rtt);
  /// Count a retry that the budget refused.
  void noteBudgetExhausted();
  /// Connection-pool thresholds (max_connections, max_pending_requests): take/give a slot.
  bool tryAcquire(Resource r);
  void release(Resource r);
  /// Count outcomes of attempts that never got a host (for stats only).
  void noteOutcome(Outcome o);

  // Membership. Ids are "ip:port".
  Result<void> addHost(const HostPort& hp, const std::string& origin);
  /// Stop sending new requests to a host; in-flight requests finish.
  Result<void> drainHost(const std::string& id);
  /// Remove a host now (in-flight requests keep it alive until they finish).
  Result<void> removeHost(const std::string& id);
  /// Replace the hosts that came from `origin` with `addrs` (DNS refresh, config reload).
  void replaceHosts(const std::string& origin, const std::vector<HostPort>& addrs);
  std::vector<HostPtr> hosts() const;
  size_t availableCount() const;
  /// True while some host still waits for its first health check.
  bool warming() const;

  /// Apply an active health check result.
  void onHealthCheck(const HostPtr& h, bool ok);
  /// Periodic work: end ejections, decay multipliers. Cheap; call about every 100 ms.
  void tick();
  /// Apply a reloaded config (same name): policies change, static endpoints are diffed.
  void updateConfig(const ClusterConfig& cfg);

  BreakerState breakerState();

  /// A consistent copy of the cluster's state for metrics and admin output.
  struct HostSnapshot {
    std::string id, origin;
    uint32_t flags = 0;
    uint32_t activeRequests = 0;
    uint32_t ejectionMultiplier = 0;
    double ewmaMs = 0;
    HostCounters counters;
    Availability availability;
  };
  struct Snapshot {
    std::string name;
    LbPolicy lb = LbPolicy::kLeastRequest;
    ClusterStats stats;
    BreakerState breaker = BreakerState::kClosed;
    bool breakerEnabled = false;
    double breakerFailureRate = -1;
    uint64_t breakerOpened = 0;
    uint32_t activeRequests = 0, activeRetries = 0;
    uint64_t overflowRequests = 0, overflowRetries = 0;
    double throughput = 0;  ///< requests/s over the last 10 s
    std::vector<HostSnapshot> hosts;
    Availability availability;  ///< mean over hosts
  };
  Snapshot snapshot();

 private:
  void rebuildAvailableLocked();
  /// Give back a connection slot: to the oldest pending waiter if any, else to the pool.
  void releaseConnectionLocked();
  /// Hand free connection slots to waiters (after max_connections was raised).
  void grantFreeSlotsLocked();
  HostPtr findLocked(const std::string& id) const;
  Result<void> addHostLocked(const HostPort& hp, const std::string& origin);

  const std::string name_;
  const Clock& clock_;
  mutable std::mutex mu_;
  ClusterConfig cfg_;
  Rng rng_;
  std::unique_ptr<LoadBalancer> lb_;
  OutlierDetector outlier_;
  ResourceGuard guard_;
  FailureBreaker breaker_;
  std::vector<HostPtr> hosts_;
  std::vector<Host*> available_;
  std::deque<std::shared_ptr<PendingWaiter>> pending_;  ///< oldest first
  size_t ejected_ = 0;
  ClusterStats stats_;
};

}  // namespace berth::mesh

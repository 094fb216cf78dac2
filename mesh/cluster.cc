#include "mesh/cluster.h"

#include <algorithm>

namespace berth::mesh {

const char* rejectName(Reject r) {
  switch (r) {
    case Reject::kNone: return "none";
    case Reject::kNoHealthyHost: return "no-healthy-host";
    case Reject::kBreakerOpen: return "breaker-open";
    case Reject::kMaxRequests: return "overflow-requests";
    case Reject::kMaxPending: return "overflow-pending";
    case Reject::kMaxConnections: return "overflow-connections";
    case Reject::kMaxRetries: return "overflow-retries";
    case Reject::kRetryBudget: return "retry-budget";
  }
  return "?";
}

Cluster::Cluster(ClusterConfig cfg, const Clock& clock, uint64_t seed)
    : name_(cfg.name),
      clock_(clock),
      cfg_(cfg),
      rng_(seed),
      lb_(makeLoadBalancer(cfg_, clock_, rng_)),
      outlier_(cfg_.outlier, clock_),
      guard_(cfg_.limits),
      breaker_(cfg_.breaker, clock_) {
  std::lock_guard lk(mu_);
  for (auto& hp : cfg_.endpoints) (void)addHostLocked(hp, "static");
  lb_->rebuild(hosts_);
  rebuildAvailableLocked();
}

ClusterConfig Cluster::config() const {
  std::lock_guard lk(mu_);
  return cfg_;
}

Cluster::DataPathParams Cluster::dataPathParams() const {
  std::lock_guard lk(mu_);
  DataPathParams p;
  p.connectTimeout = cfg_.connectTimeout;
  p.maxIdle = cfg_.maxIdleConnectionsPerHost;
  p.ringHash = cfg_.lb == LbPolicy::kRingHash;
  p.h2c = cfg_.h2c;
  if (p.ringHash) p.hashHeader = cfg_.hashHeader;
  return p;
}

HostPtr Cluster::findLocked(const std::string& id) const {
  for (auto& h : hosts_)
    if (h->id == id) return h;
  return nullptr;
}

void Cluster::rebuildAvailableLocked() {
  available_.clear();
  ejected_ = 0;
  MonoTime now = clock_.now();
  for (auto& h : hosts_) {
    updateAvailability(*h, now);
    if (h->available()) available_.push_back(h.get());
    if (h->flags & kHostEjected) ++ejected_;
  }
}

Result<void> Cluster::addHostLocked(const HostPort& hp, const std::string& origin) {
  std::string id = hp.str();
  if (findLocked(id)) return fail(ErrorCode::kAlreadyExists, "endpoint " + id + " already in cluster " + name_);
  auto h = std::make_shared<Host>();
  h->address = hp;
  h->weight = std::max<uint32_t>(1, hp.weight);
  h->id = id;
  h->origin = origin;
  if (cfg_.healthCheck.enabled) h->flags |= kHostPendingFirstCheck;
  h->periodStart = MonoTime(0);
  hosts_.push_back(std::move(h));
  return {};
}

Result<void> Cluster::addHost(const HostPort& hp, const std::string& origin) {
  std::lock_guard lk(mu_);
  BERTH_TRY(addHostLocked(hp, origin));
  lb_->rebuild(hosts_);
  rebuildAvailableLocked();
  return {};
}

Result<void> Cluster::drainHost(const std::string& id) {
  std::lock_guard lk(mu_);
  auto h = findLocked(id);
  if (!h) return fail(ErrorCode::kNotFound, "no endpoint " + id + " in cluster " + name_);
  h->flags |= kHostDraining;
  rebuildAvailableLocked();
  return {};
}

Result<void> Cluster::removeHost(const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = std::find_if(hosts_.begin(), hosts_.end(), [&](auto& h) { return h->id == id; });
  if (it == hosts_.end()) return fail(ErrorCode::kNotFound, "no endpoint " + id + " in cluster " + name_);
  hosts_.erase(it);
  lb_->rebuild(hosts_);
  rebuildAvailableLocked();
  return {};
}

void Cluster::replaceHosts(const std::string& origin, const std::vector<HostPort>& addrs) {
  std::lock_guard lk(mu_);
  std::vector<std::string> want;
  for (auto& a : addrs) want.push_back(a.str());
  bool changed = false;
  std::erase_if(hosts_, [&](const HostPtr& h) {
    bool drop = h->origin == origin && std::find(want.begin(), want.end(), h->id) == want.end();
    changed = changed || drop;
    return drop;
  });
  for (auto& a : addrs)
    if (!findLocked(a.str())) {
      (void)addHostLocked(a, origin);
      changed = true;
    }
  if (changed) {
    lb_->rebuild(hosts_);
    rebuildAvailableLocked();
  }
}

std::vector<HostPtr> Cluster::hosts() const {
  std::lock_guard lk(mu_);
  return hosts_;
}

size_t Cluster::availableCount() const {
  std::lock_guard lk(mu_);
  return available_.size();
}

bool Cluster::warming() const {
  std::lock_guard lk(mu_);
  for (auto& h : hosts_)
    if (h->flags & kHostPendingFirstCheck) return true;
  return false;
}

Reject Cluster::beginRequest() {
  std::lock_guard lk(mu_);
  ++stats_.requests;
  stats_.throughput.mark(clock_.now());
  if (!guard_.tryAcquire(Resource::kRequests)) {
    ++stats_.overflow;
    return Reject::kMaxRequests;
  }
  return Reject::kNone;
}

Cluster::Pending Cluster::enqueuePending(const std::shared_ptr<PendingWaiter>& w) {
  std::lock_guard lk(mu_);
  w->granted_ = false;
  // A slot may have come free since beginAttempt() looked (and nobody was queued to take it).
  if (pending_.empty() && guard_.inUse(Resource::kConnections) < guard_.limit(Resource::kConnections)) {
    guard_.tryAcquire(Resource::kConnections);
    w->granted_ = true;
    return Pending::kGranted;
  }
  if (!guard_.tryAcquire(Resource::kPending)) {
    ++stats_.overflow;
    return Pending::kOverflow;
  }
  pending_.push_back(w);
  return Pending::kQueued;
}

bool Cluster::leavePending(PendingWaiter& w) {
  std::lock_guard lk(mu_);
  guard_.release(Resource::kPending);
  if (w.granted_) return true;
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](auto& p) { return p.get() == &w; });
  if (it != pending_.end()) pending_.erase(it);
  return false;
}

void Cluster::releaseGrantedSlot() {
  std::lock_guard lk(mu_);
  releaseConnectionLocked();
}

size_t Cluster::pendingCount() const {
  std::lock_guard lk(mu_);
  return pending_.size();
}

void Cluster::releaseConnectionLocked() {
  // Hand the slot over unless a reload lowered max_connections below what is in use.
  if (!pending_.empty() && guard_.inUse(Resource::kConnections) <= guard_.limit(Resource::kConnections)) {
    std::shared_ptr<PendingWaiter> w = std::move(pending_.front());
    pending_.pop_front();
    w->granted_ = true;
    w->onGranted();
    return;
  }
  guard_.release(Resource::kConnections);
}

void Cluster::grantFreeSlotsLocked() {
  while (!pending_.empty() &&
         guard_.inUse(Resource::kConnections) < guard_.limit(Resource::kConnections)) {
    guard_.tryAcquire(Resource::kConnections);
    std::shared_ptr<PendingWaiter> w = std::move(pending_.front());
    pending_.pop_front();
    w->granted_ = true;
    w->onGranted();
  }
}

void Cluster::countResponse(int status) {
  std::lock_guard lk(mu_);
  ++stats_.responses[status];
}

void Cluster::endRequest(int status, Duration total, Duration lastUpstream) {
  std::lock_guard lk(mu_);
  guard_.release(Resource::kRequests);
  ++stats_.responses[status];
  stats_.total.record(total);
  stats_.overhead.record(total > lastUpstream ? total - lastUpstream : Duration(0));
  if (status == 504) ++stats_.timeouts;
}

Cluster::Attempt Cluster::beginAttempt(const LbContext& ctx, const Host* avoid, bool retry,
                                       bool slotHeld) {
  std::lock_guard lk(mu_);
  Attempt a;
  a.retry = retry;
  // A granted slot that this attempt does not use goes to the next waiter.
  struct SlotGuard {
    Cluster* c;
    bool held;
    ~SlotGuard() {
      if (held) c->releaseConnectionLocked();
    }
  } slot{this, slotHeld};
  if (available_.empty()) {
    ++stats_.noHealthyHost;
    a.reject = Reject::kNoHealthyHost;
    return a;
  }
  if (retry && !guard_.tryAcquire(Resource::kRetries)) {
    a.reject = Reject::kMaxRetries;
    a.retry = false;  // no slot taken
    return a;
  }
  a.permit = breaker_.tryAcquire();
  if (!a.permit.admitted) {
    if (retry) guard_.release(Resource::kRetries);
    a.retry = false;
    ++stats_.breakerRejected;
    a.reject = Reject::kBreakerOpen;
    return a;
  }
  // HTTP/1.1: each attempt in flight holds one upstream connection.
  if (slot.held) {
    slot.held = false;
  } else if (!guard_.tryAcquire(Resource::kConnections)) {
    if (retry) guard_.release(Resource::kRetries);
    a.retry = false;
    ++stats_.overflow;
    a.reject = Reject::kMaxConnections;
    return a;
  }
  Host* h = lb_->pick(available_, hosts_, ctx);
  for (int i = 0; i < 3 && h && h == avoid && available_.size() > 1; ++i)
    h = lb_->pick(available_, hosts_, ctx);
  if (h == avoid && available_.size() > 1) {
    for (Host* c : available_)
      if (c != avoid) {
        h = c;
        break;
      }
  }
  if (!h) {
    releaseConnectionLocked();
    if (retry) guard_.release(Resource::kRetries);
    a.retry = false;
    ++stats_.noHealthyHost;
    a.reject = Reject::kNoHealthyHost;
    return a;
  }
  for (auto& hp : hosts_)
    if (hp.get() == h) a.host = hp;
  ++h->activeRequests;
  ++h->counters.requests;
  ++stats_.attempts;
  if (retry) ++stats_.retries;
  return a;
}

void Cluster::endAttempt(Attempt& a, Outcome o, int status, Duration rtt) {
  std::lock_guard lk(mu_);
  if (a.retry) guard_.release(Resource::kRetries);
  a.retry = false;
  if (!a.host) return;
  releaseConnectionLocked();
  Host& h = *a.host;
  if (h.activeRequests) --h.activeRequests;
  breaker_.onResult(a.permit, !isFailure(o));
  if (o == Outcome::kSuccess || o == Outcome::kHttp5xx) {
    stats_.upstream.record(rtt);
    lb_->onResult(h, rtt);
  } else {
    // A failed connection or a timeout counts as a slow round trip for peak-EWMA.
    lb_->onResult(h, rtt + std::chrono::seconds(1));
  }
  if (isFailure(o)) ++h.counters.failures;
  if (o == Outcome::kConnectFailure) {
    ++h.counters.connectFailures;
    ++stats_.connectFailures;
  }
  if (o == Outcome::kReset) ++stats_.resets;
  // A removed host still reports, but must not count toward ejection of current hosts.
  bool member = findLocked(h.id) == a.host;
  if (member && outlier_.onOutcome(h, o, hosts_.size(), ejected_)) {
    ++stats_.ejections;
    rebuildAvailableLocked();
  }
  a.host.reset();
}

void Cluster::noteBudgetExhausted() {
  std::lock_guard lk(mu_);
  ++stats_.retryBudgetExhausted;
}

bool Cluster::tryAcquire(Resource r) {
  std::lock_guard lk(mu_);
  bool ok = guard_.tryAcquire(r);
  if (!ok) ++stats_.overflow;
  return ok;
}

void Cluster::release(Resource r) {
  std::lock_guard lk(mu_);
  guard_.release(r);
}

void Cluster::noteOutcome(Outcome o) {
  std::lock_guard lk(mu_);
  if (o == Outcome::kConnectFailure) ++stats_.connectFailures;
  if (o == Outcome::kReset) ++stats_.resets;
}

void Cluster::onHealthCheck(const HostPtr& h, bool ok) {
  std::lock_guard lk(mu_);
  if (applyHealthCheck(*h, ok, cfg_.healthCheck) != HealthChange::kNone) rebuildAvailableLocked();
}

void Cluster::tick() {
  std::lock_guard lk(mu_);
  if (outlier_.tick(hosts_)) rebuildAvailableLocked();
}

void Cluster::updateConfig(const ClusterConfig& cfg) {
  std::lock_guard lk(mu_);
  bool lbChanged = cfg.lb != cfg_.lb || cfg.ringSize != cfg_.ringSize ||
                   cfg.ewmaDecay != cfg_.ewmaDecay;
  bool hcTurnedOn = cfg.healthCheck.enabled && !cfg_.healthCheck.enabled;
  cfg_ = cfg;
  outlier_.setConfig(cfg_.outlier);
  guard_.setLimits(cfg_.limits);
  grantFreeSlotsLocked();
  breaker_.setConfig(cfg_.breaker);
  if (lbChanged) lb_ = makeLoadBalancer(cfg_, clock_, rng_);
  if (!cfg_.healthCheck.enabled)
    for (auto& h : hosts_) h->flags &= ~(kHostFailedHealthCheck | kHostPendingFirstCheck);
  (void)hcTurnedOn;  // hosts already serving stay in until a check says otherwise
  // Static endpoints: diff against the hosts that came from the file.
  std::vector<std::string> want;
  for (auto& a : cfg_.endpoints) want.push_back(a.str());
  std::erase_if(hosts_, [&](const HostPtr& h) {
    return h->origin == "static" && std::find(want.begin(), want.end(), h->id) == want.end();
  });
  for (auto& a : cfg_.endpoints) {
    if (Host* h = findLocked(a.str()).get()) h->weight = std::max<uint32_t>(1, a.weight);
    else (void)addHostLocked(a, "static");
  }
  lb_->rebuild(hosts_);
  rebuildAvailableLocked();
}

BreakerState Cluster::breakerState() {
  std::lock_guard lk(mu_);
  return breaker_.state();
}

Cluster::Snapshot Cluster::snapshot() {
  std::lock_guard lk(mu_);
  MonoTime now = clock_.now();
  Snapshot s;
  s.name = name_;
  s.lb = cfg_.lb;
  s.stats = stats_;
  s.breaker = breaker_.state();
  s.breakerEnabled = breaker_.enabled();
  s.breakerFailureRate = breaker_.failureRate();
  s.breakerOpened = breaker_.timesOpened();
  s.activeRequests = guard_.inUse(Resource::kRequests);
  s.activeRetries = guard_.inUse(Resource::kRetries);
  s.overflowRequests = guard_.overflows(Resource::kRequests);
  s.overflowRetries = guard_.overflows(Resource::kRetries);
  s.throughput = stats_.throughput.perSecond(now);
  double sumA = 0, sumF = 0, sumR = 0;
  uint32_t fails = 0;
  for (auto& h : hosts_) {
    updateAvailability(*h, now);
    HostSnapshot hs;
    hs.id = h->id;
    hs.origin = h->origin;
    hs.flags = h->flags;
    hs.activeRequests = h->activeRequests;
    hs.ejectionMultiplier = h->ejectionMultiplier;
    hs.ewmaMs = h->ewmaNanos / 1e6;
    hs.counters = h->counters;
    hs.availability = availabilityOf(*h, now);
    sumA += hs.availability.availability;
    sumF += hs.availability.mtbfSeconds;
    sumR += hs.availability.mttrSeconds;
    fails += hs.availability.failures;
    s.hosts.push_back(std::move(hs));
  }
  if (!hosts_.empty()) {
    double n = static_cast<double>(hosts_.size());
    s.availability.availability = sumA / n;
    s.availability.mtbfSeconds = sumF / n;
    s.availability.mttrSeconds = sumR / n;
    s.availability.failures = fails;
  }
  return s;
}

}  // namespace berth::mesh

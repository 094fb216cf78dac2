#pragma once
/// Load balancers: pick one available host of a cluster for a request.
///
/// - round_robin: each available host in turn.
/// - least_request (default): power of two choices, the one with fewer active requests
///   (Envoy's default, choice count 2).
/// - ring_hash: consistent hashing of a request header onto a ring of virtual nodes; a request
///   without the header gets a random host; an unavailable host's keys move to the next host on
///   the ring only.
/// - peak_ewma: power of two choices by cost = peak-sensitive EWMA of the round trip times
///   (active + 1) (Finagle/Linkerd); an idle host's EWMA decays toward 0 so it gets probed.
///
/// Not thread-safe: called under the owning cluster's lock.

#include <memory>
#include <string_view>
#include <vector>

#include "mesh/clock.h"
#include "mesh/config.h"
#include "mesh/host.h"

namespace berth::mesh {

/// What a balancer may look at for one request.
struct LbContext {
  std::string_view hashKey;  ///< ring_hash: value of the hash header (empty: none)
  bool hasHashKey = false;
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  /// Membership changed (hosts added or removed); `all` is every host of the cluster.
  virtual void rebuild(const std::vector<HostPtr>& all) {}
  /// Pick among `available` (hosts with available() true, in cluster order); `all` is every
  /// host. nullptr when none is available.
  virtual Host* pick(const std::vector<Host*>& available, const std::vector<HostPtr>& all,
                     const LbContext& ctx) = 0;
  /// Record a finished upstream round trip (peak_ewma uses it).
  virtual void onResult(Host& h, MonoTime rtt) {}
};

/// Make the balancer for a cluster's policy. `clock` and `rng` outlive it.
std::unique_ptr<LoadBalancer> makeLoadBalancer(const ClusterConfig& cfg, const Clock& clock,
                                               Rng& rng);

/// 64-bit hash used by the ring (FNV-1a with a murmur finalizer).
uint64_t ringHash(std::string_view s);

}  // namespace berth::mesh

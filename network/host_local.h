#pragma once
/// The host-local IPAM store, in the same on-disk format as the host-local plugin of
/// containernetworking-plugins, so leases written by either are understood by the other:
/// `<dataDir>/<network>/<ip>` holds "<container id>\r\n<ifname>", `last_reserved_ip.<set>` the
/// last address handed out from range set <set>, and `lock` is flock'ed around every change.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::network {

/// One range of a range set (addresses host order, inclusive).
struct IpRange {
  uint32_t subnet = 0;
  int prefix = 0;
  uint32_t start = 0;    ///< rangeStart, default subnet + 1
  uint32_t end = 0;      ///< rangeEnd, default broadcast - 1
  uint32_t gateway = 0;  ///< default subnet + 1; never handed out
};

/// The first range set of an IPAM config ({"ranges": [[{subnet, rangeStart?, rangeEnd?,
/// gateway?}]]} or the older {"subnet": ...}). kInvalidArgument names the bad value.
Result<std::vector<IpRange>> parseRanges(const nlohmann::json& ipam);

struct Lease {
  uint32_t ip = 0;
  const IpRange* range = nullptr;  ///< the range it came from (points into the caller's vector)
};

class LeaseStore {
 public:
  /// `dir` is <dataDir>/<network name>; it is created on first allocation.
  explicit LeaseStore(std::string dir) : dir_(std::move(dir)) {}

  /// The address (id, ifname) already holds, else the first free one after
  /// last_reserved_ip.0 (wrapping), skipping gateways. kFailedPrecondition when full.
  Result<Lease> allocate(const std::vector<IpRange>& ranges, const std::string& id,
                         const std::string& ifname);
  /// Remove the leases of (id, ifname) (and legacy id-only ones if none matched). A missing
  /// directory or lease is fine.
  Result<void> release(const std::string& id, const std::string& ifname);
  /// IPs (dotted) held by (id, ifname).
  std::vector<std::string> find(const std::string& id, const std::string& ifname) const;

  /// The content the Go plugin writes for a lease.
  static std::string leaseContent(const std::string& id, const std::string& ifname);

 private:
  std::string dir_;
};

}  // namespace berth::network

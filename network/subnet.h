#pragma once
/// IPv4 subnets: CIDR parsing, overlap checks, and the pick of a free /24 for a new network
/// that overlaps no route of the host and no subnet another berth root has reserved.

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::network {

struct Subnet {
  uint32_t addr = 0;  ///< network address, host order
  int prefix = 0;
  std::string str() const;          ///< "10.89.0.0/24"
  std::string hostAddr(uint32_t n) const;  ///< addr+n as dotted quad ("10.89.0.1" for n=1)
  bool overlaps(const Subnet& o) const;
};

/// Parse "a.b.c.d/n" (host bits must be zero). kInvalidArgument names the value.
Result<Subnet> parseSubnet(const std::string& cidr);

/// Subnets routed on the host now (from /proc/net/route).
std::vector<Subnet> hostRoutes();

/// First /24 in 10.89.0.0 .. 10.127.255.0 that overlaps nothing in `taken`.
Result<Subnet> pickSubnet(const std::vector<Subnet>& taken);

}  // namespace berth::network

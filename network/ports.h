#pragma once
/// Published ports: the `-p [IP:][HOST[-HOST]:]CTR[-CTR][/tcp|udp]` syntax, its parsing, and
/// the check that a host port is free before the CNI portmap plugin claims it.

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace berth::network {

struct PortMapping {
  std::string hostIp;        ///< "" = all host addresses (and 127.0.0.1)
  uint16_t hostPort = 0;     ///< 0 = pick a free port when the container starts
  uint16_t containerPort = 0;
  std::string protocol = "tcp";  ///< "tcp" or "udp"
  bool operator==(const PortMapping&) const = default;
};

/// Parse one `-p` value into one mapping per port of its range. Errors (kInvalidArgument) name
/// the bad part: `invalid port "x" in -p "x:80"`. A host range must have the container
/// range's size; a single container port with a host range is not accepted.
Result<std::vector<PortMapping>> parsePublish(const std::string& spec);

/// Parse an EXPOSE-style "80/tcp" key.
Result<PortMapping> parseExposed(const std::string& key);

/// "0.0.0.0:8080->80/tcp" (docker ps style).
std::string formatMapping(const PortMapping& m);

/// Try to bind hostIp:hostPort (tcp or udp). kAlreadyExists if something else holds it.
Result<void> checkPortFree(const PortMapping& m);

/// Ask the kernel for a free port (bind to port 0) for `protocol`.
Result<uint16_t> pickFreePort(const std::string& protocol, const std::string& hostIp);

}  // namespace berth::network

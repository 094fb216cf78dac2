#include "network/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/strings.h"
#include "common/unique_fd.h"

namespace berth::network {
namespace {

Result<std::pair<uint16_t, uint16_t>> parseRange(const std::string& s, const std::string& spec) {
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "invalid port \"" + s + "\" in -p \"" + spec + "\"");
  };
  auto [lo, hi] = str::splitOnce(s, '-');
  auto a = str::parseU64(lo);
  if (!a || *a == 0 || *a > 65535) return bad();
  uint64_t b = *a;
  if (hi) {
    auto h = str::parseU64(*hi);
    if (!h || *h == 0 || *h > 65535 || *h < *a) return bad();
    b = *h;
  }
  return std::make_pair(static_cast<uint16_t>(*a), static_cast<uint16_t>(b));
}

bool validIp(const std::string& ip) {
  in_addr a4;
  in6_addr a6;
  return inet_pton(AF_INET, ip.c_str(), &a4) == 1 || inet_pton(AF_INET6, ip.c_str(), &a6) == 1;
}

}  // namespace

Result<std::vector<PortMapping>> parsePublish(const std::string& spec) {
  auto badSpec = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "invalid -p \"" + spec + "\": " + why);
  };
  if (spec.empty()) return badSpec("empty");
  std::string rest = spec;
  std::string proto = "tcp";
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    proto = str::toLower(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (proto != "tcp" && proto != "udp") return badSpec("protocol must be tcp or udp");
  }
  std::string ip;
  if (!rest.empty() && rest[0] == '[') {  // [v6]:host:ctr
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return badSpec("bad IPv6 address");
    ip = rest.substr(1, close - 1);
    rest = rest.substr(close + 2);
    if (!validIp(ip)) return badSpec("bad IP address \"" + ip + "\"");
  }
  auto parts = str::split(rest, ':');
  std::string hostPart, ctrPart;
  if (parts.size() == 1) {
    ctrPart = parts[0];
  } else if (parts.size() == 2) {
    hostPart = parts[0];
    ctrPart = parts[1];
  } else if (parts.size() == 3 && ip.empty()) {
    ip = parts[0];
    hostPart = parts[1];
    ctrPart = parts[2];
    if (!validIp(ip)) return badSpec("bad IP address \"" + ip + "\"");
  } else {
    return badSpec("expected [IP:][HOST:]CONTAINER[/PROTO]");
  }
  if (ctrPart.empty()) return badSpec("no container port");
  BERTH_ASSIGN(auto ctr, parseRange(ctrPart, spec));
  std::pair<uint16_t, uint16_t> host{0, 0};
  if (!hostPart.empty()) {
    BERTH_ASSIGN(host, parseRange(hostPart, spec));
    if (host.second - host.first != ctr.second - ctr.first)
      return badSpec("host and container port ranges differ in size");
  }
  std::vector<PortMapping> out;
  for (uint32_t i = 0; i <= static_cast<uint32_t>(ctr.second - ctr.first); ++i) {
    PortMapping m;
    m.hostIp = ip == "0.0.0.0" ? "" : ip;
    m.hostPort = host.first ? static_cast<uint16_t>(host.first + i) : 0;
    m.containerPort = static_cast<uint16_t>(ctr.first + i);
    m.protocol = proto;
    out.push_back(m);
  }
  return out;
}

Result<PortMapping> parseExposed(const std::string& key) {
  auto [port, proto] = str::splitOnce(key, '/');
  auto p = str::parseU64(port);
  if (!p || *p == 0 || *p > 65535)
    return fail(ErrorCode::kInvalidArgument, "invalid exposed port \"" + key + "\"");
  PortMapping m;
  m.containerPort = static_cast<uint16_t>(*p);
  m.protocol = proto ? str::toLower(*proto) : "tcp";
  if (m.protocol != "tcp" && m.protocol != "udp")
    return fail(ErrorCode::kInvalidArgument, "invalid exposed port \"" + key + "\"");
  return m;
}

std::string formatMapping(const PortMapping& m) {
  std::string ip = m.hostIp.empty() ? "0.0.0.0" : m.hostIp;
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(m.hostPort) + "->" + std::to_string(m.containerPort) + "/" +
         m.protocol;
}

namespace {
Result<UniqueFd> bindPort(const std::string& protocol, const std::string& hostIp, uint16_t port) {
  bool v6 = hostIp.find(':') != std::string::npos;
  int type = protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) return failErrno("socket");
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, hostIp.c_str(), &a.sin6_addr);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (hostIp.empty()) a.sin_addr.s_addr = htonl(INADDR_ANY);
    else inet_pton(AF_INET, hostIp.c_str(), &a.sin_addr);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc < 0) return failErrno("bind");
  return fd;
}
}  // namespace

Result<void> checkPortFree(const PortMapping& m) {
  auto fd = bindPort(m.protocol, m.hostIp, m.hostPort);
  if (!fd) {
    if (fd.error().is(EADDRINUSE))
      return fail(ErrorCode::kAlreadyExists,
                  "port " + std::to_string(m.hostPort) + "/" + m.protocol +
                      " is already allocated on the host");
    if (fd.error().is(EADDRNOTAVAIL))
      return fail(ErrorCode::kInvalidArgument, "host address " + m.hostIp + " is not local");
    return fail(fd.error().context("check host port " + std::to_string(m.hostPort)));
  }
  return {};
}

Result<uint16_t> pickFreePort(const std::string& protocol, const std::string& hostIp) {
  BERTH_ASSIGN(auto fd, bindPort(protocol, hostIp, 0));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return failErrno("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace berth::network

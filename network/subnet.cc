#include "network/subnet.h"

#include <arpa/inet.h>

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace berth::network {

std::string Subnet::str() const { return hostAddr(0) + "/" + std::to_string(prefix); }

std::string Subnet::hostAddr(uint32_t n) const {
  in_addr a{htonl(addr + n)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

static uint32_t maskOf(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

bool Subnet::overlaps(const Subnet& o) const {
  int p = std::min(prefix, o.prefix);
  return (addr & maskOf(p)) == (o.addr & maskOf(p));
}

Result<Subnet> parseSubnet(const std::string& cidr) {
  auto bad = [&] { return fail(ErrorCode::kInvalidArgument, "invalid subnet \"" + cidr + "\""); };
  auto [ip, len] = str::splitOnce(cidr, '/');
  if (!len) return bad();
  auto p = str::parseU64(*len);
  in_addr a{};
  if (!p || *p > 32 || inet_pton(AF_INET, ip.c_str(), &a) != 1) return bad();
  Subnet s{ntohl(a.s_addr), static_cast<int>(*p)};
  if (s.addr & ~maskOf(s.prefix)) return bad();
  if (s.prefix > 30) return fail(ErrorCode::kInvalidArgument, "subnet " + cidr + " is too small");
  return s;
}

std::vector<Subnet> hostRoutes() {
  std::vector<Subnet> out;
  std::ifstream f("/proc/net/route");
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string iface, dst, gw, flags, refcnt, use, metric, mask;
    if (!(ss >> iface >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d = std::stoul(dst, nullptr, 16), m = std::stoul(mask, nullptr, 16);
    if (m == 0) continue;  // default route overlaps everything; ignore it
    int prefix = __builtin_popcount(m);
    out.push_back(Subnet{ntohl(d), prefix});
  }
  return out;
}

Result<Subnet> pickSubnet(const std::vector<Subnet>& taken) {
  for (uint32_t b = 89; b <= 127; ++b) {
    for (uint32_t c = 0; c <= 255; ++c) {
      Subnet s{(10u << 24) | (b << 16) | (c << 8), 24};
      bool clash = false;
      for (auto& t : taken) clash = clash || s.overlaps(t);
      if (!clash) return s;
    }
  }
  return fail(ErrorCode::kFailedPrecondition, "no free subnet left in 10.89.0.0-10.127.255.0");
}

}  // namespace berth::network

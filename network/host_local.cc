#include "network/host_local.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "network/netlink.h"
#include "network/subnet.h"

namespace berth::network {
namespace {

using nlohmann::json;

constexpr const char* kLastPrefix = "last_reserved_ip.";

class DirLock {
 public:
  static Result<DirLock> take(const std::string& dir) {
    UniqueFd fd(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) {
      return failErrno("open " + dir + "/lock");
    }
    while (::flock(fd.get(), LOCK_EX) < 0) {
      if (errno != EINTR) {
        return failErrno("lock " + dir);
      }
    }
    return DirLock(std::move(fd));
  }

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

bool isLeaseName(const std::string& n) {
  return n != "lock" && !str::startsWith(n, kLastPrefix) && n[0] != '.';
}

// Lease files whose trimmed content equals `match`.
std::vector<std::string> matching(const std::string& dir, const std::string& match) {
  std::vector<std::string> out;
  auto names = fs::listDir(dir);
  if (!names) {
    return out;
  }
  for (auto& n : *names) {
    if (!isLeaseName(n)) {
      continue;
    }
    auto c = fs::readFile(fs::join(dir, n));
    if (c && str::trim(*c) == match) {
      out.push_back(n);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<IpRange>> parseRanges(const json& ipam) {
  std::vector<json> raw;
  if (ipam.contains("ranges") && ipam["ranges"].is_array() && !ipam["ranges"].empty() &&
      ipam["ranges"][0].is_array()) {
    for (auto& r : ipam["ranges"][0]) {
      raw.push_back(r);
    }
  } else if (ipam.contains("subnet")) {
    raw.push_back(ipam);
  }
  if (raw.empty()) {
    return fail(ErrorCode::kInvalidArgument, "host-local: no range configured");
  }
  std::vector<IpRange> out;
  for (auto& r : raw) {
    if (!r.is_object()) {
      return fail(ErrorCode::kInvalidArgument, "host-local: bad range");
    }
    std::string sn = r.value("subnet", std::string());
    BERTH_ASSIGN(Subnet s, parseSubnet(sn));
    if (s.prefix > 30) {
      return fail(ErrorCode::kInvalidArgument, "host-local: subnet " + sn + " is too small");
    }
    IpRange ir;
    ir.subnet = s.addr;
    ir.prefix = s.prefix;
    uint32_t bcast = s.addr | (~uint32_t{0} >> s.prefix);
    ir.start = s.addr + 1;
    ir.end = bcast - 1;
    ir.gateway = s.addr + 1;
    auto ipIn = [&](const char* key, uint32_t& dst) -> Result<void> {
      std::string v = r.value(key, std::string());
      if (v.empty()) {
        return {};
      }
      auto ip = nl::parseIp4(v);
      if (!ip || *ip < s.addr || *ip > bcast) {
        std::string msg = "host-local: ";
        msg.append(key).append(" ").append(v).append(" is not in ").append(sn);
        return fail(ErrorCode::kInvalidArgument, msg);
      }
      dst = *ip;
      return {};
    };
    BERTH_TRY(ipIn("rangeStart", ir.start));
    BERTH_TRY(ipIn("rangeEnd", ir.end));
    BERTH_TRY(ipIn("gateway", ir.gateway));
    if (ir.start > ir.end) {
      return fail(ErrorCode::kInvalidArgument, "host-local: rangeStart is after rangeEnd");
    }
    out.push_back(ir);
  }
  return out;
}

std::string LeaseStore::leaseContent(const std::string& id, const std::string& ifname) {
  return std::string(str::trim(id)) + "\r\n" + ifname;
}

std::vector<std::string> LeaseStore::find(const std::string& id, const std::string& ifname) const {
  return matching(dir_, leaseContent(id, ifname));
}

Result<Lease> LeaseStore::allocate(const std::vector<IpRange>& ranges, const std::string& id,
                                   const std::string& ifname) {
  if (ranges.empty()) {
    return fail(ErrorCode::kInvalidArgument, "host-local: no range");
  }
  BERTH_TRY(fs::mkdirs(dir_, 0755));
  BERTH_ASSIGN(auto lock, DirLock::take(dir_));
  auto rangeOf = [&](uint32_t ip) -> const IpRange* {
    for (auto& r : ranges) {
      if (ip >= r.start && ip <= r.end) {
        return &r;
      }
    }
    return nullptr;
  };
  // Idempotent ADD: the address this attachment already holds.
  for (auto& n : find(id, ifname)) {
    auto ip = nl::parseIp4(n);
    if (ip && rangeOf(*ip)) {
      return Lease{*ip, rangeOf(*ip)};
    }
  }
  // Walk every address of the ranges once, starting after the last one handed out.
  size_t ri = 0;
  uint32_t cur = ranges[0].start;
  if (auto last = fs::readFile(dir_ + "/" + kLastPrefix + "0"); last) {
    if (auto ip = nl::parseIp4(std::string(str::trim(*last))); ip && rangeOf(*ip)) {
      for (size_t i = 0; i < ranges.size(); ++i) {
        if (&ranges[i] == rangeOf(*ip)) {
          ri = i;
        }
      }
      cur = *ip;
      if (cur == ranges[ri].end) {
        ri = (ri + 1) % ranges.size();
        cur = ranges[ri].start;
      } else {
        ++cur;
      }
    }
  }
  uint64_t total = 0;
  for (auto& r : ranges) {
    total += uint64_t{r.end} - r.start + 1;
  }
  std::string content = leaseContent(id, ifname);
  for (uint64_t n = 0; n < total; ++n) {
    const IpRange& r = ranges[ri];
    uint32_t ip = cur;
    if (cur == r.end) {
      ri = (ri + 1) % ranges.size();
      cur = ranges[ri].start;
    } else {
      ++cur;
    }
    bool isGateway = false;
    for (auto& g : ranges) {
      isGateway = isGateway || g.gateway == ip;
    }
    if (isGateway) {
      continue;
    }
    std::string path = dir_ + "/" + nl::formatIp4(ip);
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!f) {
      if (errno == EEXIST) {
        continue;
      }
      return failErrno("host-local: create " + path);
    }
    if (::write(f.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
      int e = errno;
      ::unlink(path.c_str());
      return failErrno("host-local: write " + path, e);
    }
    BERTH_TRY(fs::writeFile(dir_ + "/" + kLastPrefix + "0", nl::formatIp4(ip), 0644));
    return Lease{ip, &r};
  }
  return fail(ErrorCode::kFailedPrecondition,
              "host-local: no IP addresses available in range set " +
                  nl::formatIp4(ranges[0].start) + "-" + nl::formatIp4(ranges.back().end));
}

Result<void> LeaseStore::release(const std::string& id, const std::string& ifname) {
  if (!fs::isDir(dir_)) {
    return {};
  }
  BERTH_ASSIGN(auto lock, DirLock::take(dir_));
  auto hits = matching(dir_, leaseContent(id, ifname));
  if (hits.empty()) {
    hits = matching(dir_, std::string(str::trim(id)));  // pre-ifname format
  }
  for (auto& n : hits) {
    if (::unlink((dir_ + "/" + n).c_str()) < 0 && errno != ENOENT) {
      return failErrno("host-local: remove lease " + n);
    }
  }
  return {};
}

}  // namespace berth::network

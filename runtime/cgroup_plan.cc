// Pure planning of cgroup limit writes, v1 and v2 (no I/O: unit-tested in cgroup_test.cc).
#include <string>

#include "runtime/cgroup.h"

namespace berth::runtime {
namespace {

std::string devNum(int64_t v) { return v < 0 ? "*" : std::to_string(v); }

std::string devRule(const oci::DeviceCgroupRule& d) {
  std::string type = d.type.empty() ? "a" : d.type;
  if (type == "a" && !d.major && !d.minor) return "a";
  return type + " " + devNum(d.major.value_or(-1)) + ":" + devNum(d.minor.value_or(-1)) + " " +
         (d.access.empty() ? "rwm" : d.access);
}

/// "2MB" -> "2MB" as used in hugetlb.<size>.* file names; validated loosely.
Result<std::string> hugeSize(const std::string& s) {
  if (s.empty() || !isdigit(static_cast<unsigned char>(s[0])))
    return fail(ErrorCode::kInvalidArgument, "hugepageLimits: bad pageSize \"" + s + "\"");
  return s;
}

void add(std::vector<CgroupWrite>& w, const char* c, std::string f, std::string v) {
  w.push_back({c, std::move(f), std::move(v)});
}

}  // namespace

uint64_t sharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkioToIoWeight(uint64_t w) {
  if (w == 0) return 0;
  return 1 + (w - 10) * 9999 / 990;
}

Result<std::vector<CgroupWrite>> planV1(const oci::Resources& r) {
  std::vector<CgroupWrite> w;
  if (r.memory) {
    const auto& m = *r.memory;
    // memsw must stay >= limit: write swap first only when it is being raised above the limit;
    // the executor retries a failed write once after the others, which fixes either order.
    if (m.limit) add(w, "memory", "memory.limit_in_bytes", std::to_string(*m.limit));
    if (m.swap) add(w, "memory", "memory.memsw.limit_in_bytes", std::to_string(*m.swap));
    if (m.reservation)
      add(w, "memory", "memory.soft_limit_in_bytes", std::to_string(*m.reservation));
    if (m.kernelTCP)
      add(w, "memory", "memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernelTCP));
    if (m.swappiness) {
      if (*m.swappiness > 100)
        return fail(ErrorCode::kInvalidArgument, "memory.swappiness: must be in [0, 100]");
      add(w, "memory", "memory.swappiness", std::to_string(*m.swappiness));
    }
    if (m.disableOOMKiller && *m.disableOOMKiller) add(w, "memory", "memory.oom_control", "1");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares) add(w, "cpu", "cpu.shares", std::to_string(*c.shares));
    if (c.period) {
      if (*c.period == 0) return fail(ErrorCode::kInvalidArgument, "cpu.period: must be > 0");
      add(w, "cpu", "cpu.cfs_period_us", std::to_string(*c.period));
    }
    if (c.quota) add(w, "cpu", "cpu.cfs_quota_us", std::to_string(*c.quota));
    if (c.burst) add(w, "cpu", "cpu.cfs_burst_us", std::to_string(*c.burst));
    if (c.realtimePeriod) add(w, "cpu", "cpu.rt_period_us", std::to_string(*c.realtimePeriod));
    if (c.realtimeRuntime)
      add(w, "cpu", "cpu.rt_runtime_us", std::to_string(*c.realtimeRuntime));
    if (c.idle) add(w, "cpu", "cpu.idle", std::to_string(*c.idle));
    if (!c.cpus.empty()) add(w, "cpuset", "cpuset.cpus", c.cpus);
    if (!c.mems.empty()) add(w, "cpuset", "cpuset.mems", c.mems);
  }
  if (r.pids)
    add(w, "pids", "pids.max", r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max");
  if (r.blockIO) {
    const auto& b = *r.blockIO;
    if (b.weight) add(w, "blkio", "blkio.weight", std::to_string(*b.weight));
    if (b.leafWeight) add(w, "blkio", "blkio.leaf_weight", std::to_string(*b.leafWeight));
    for (const auto& d : b.weightDevice) {
      std::string dev = std::to_string(d.major) + ":" + std::to_string(d.minor) + " ";
      if (d.weight) add(w, "blkio", "blkio.weight_device", dev + std::to_string(*d.weight));
      if (d.leafWeight)
        add(w, "blkio", "blkio.leaf_weight_device", dev + std::to_string(*d.leafWeight));
    }
    auto thr = [&](const char* file, const std::vector<oci::ThrottleDevice>& v) {
      for (const auto& t : v)
        add(w, "blkio", file,
            std::to_string(t.major) + ":" + std::to_string(t.minor) + " " + std::to_string(t.rate));
    };
    thr("blkio.throttle.read_bps_device", b.throttleReadBpsDevice);
    thr("blkio.throttle.write_bps_device", b.throttleWriteBpsDevice);
    thr("blkio.throttle.read_iops_device", b.throttleReadIOPSDevice);
    thr("blkio.throttle.write_iops_device", b.throttleWriteIOPSDevice);
  }
  for (const auto& h : r.hugepageLimits) {
    BERTH_ASSIGN(std::string size, hugeSize(h.pageSize));
    add(w, "hugetlb", "hugetlb." + size + ".limit_in_bytes", std::to_string(h.limit));
  }
  if (r.network) {
    if (r.network->classID)
      add(w, "net_cls", "net_cls.classid", std::to_string(*r.network->classID));
    for (const auto& [name, prio] : r.network->priorities)
      add(w, "net_prio", "net_prio.ifpriomap", name + " " + std::to_string(prio));
  }
  for (const auto& d : r.devices)
    add(w, "devices", d.allow ? "devices.allow" : "devices.deny", devRule(d));
  if (!r.unified.empty())
    return fail(ErrorCode::kInvalidArgument, "resources.unified: needs cgroup v2");
  return w;
}

Result<std::vector<CgroupWrite>> planV2(const oci::Resources& r) {
  std::vector<CgroupWrite> w;
  if (r.memory) {
    const auto& m = *r.memory;
    auto lim = [](int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); };
    if (m.reservation) add(w, "memory", "memory.low", lim(*m.reservation));
    if (m.limit) add(w, "memory", "memory.max", lim(*m.limit));
    if (m.swap) {
      // OCI swap is memory+swap; v2 wants swap alone.
      if (*m.swap < 0) {
        add(w, "memory", "memory.swap.max", "max");
      } else {
        if (!m.limit || *m.limit < 0)
          return fail(ErrorCode::kInvalidArgument, "memory.swap: needs memory.limit on cgroup v2");
        if (*m.swap < *m.limit)
          return fail(ErrorCode::kInvalidArgument, "memory.swap: must be >= memory.limit");
        add(w, "memory", "memory.swap.max", std::to_string(*m.swap - *m.limit));
      }
    }
    if (m.disableOOMKiller && *m.disableOOMKiller)
      return fail(ErrorCode::kInvalidArgument, "memory.disableOOMKiller: not supported on cgroup v2");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares) add(w, "cpu", "cpu.weight", std::to_string(sharesToWeight(*c.shares)));
    if (c.quota || c.period) {
      if (c.period && *c.period == 0)
        return fail(ErrorCode::kInvalidArgument, "cpu.period: must be > 0");
      std::string q = (!c.quota || *c.quota <= 0) ? "max" : std::to_string(*c.quota);
      add(w, "cpu", "cpu.max", q + " " + std::to_string(c.period.value_or(100000)));
    }
    if (c.burst) add(w, "cpu", "cpu.max.burst", std::to_string(*c.burst));
    if (c.idle) add(w, "cpu", "cpu.idle", std::to_string(*c.idle));
    if (c.realtimeRuntime || c.realtimePeriod)
      return fail(ErrorCode::kInvalidArgument, "cpu.realtime*: not supported on cgroup v2");
    if (!c.cpus.empty()) add(w, "cpuset", "cpuset.cpus", c.cpus);
    if (!c.mems.empty()) add(w, "cpuset", "cpuset.mems", c.mems);
  }
  if (r.pids)
    add(w, "pids", "pids.max", r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max");
  if (r.blockIO) {
    const auto& b = *r.blockIO;
    if (b.weight) add(w, "io", "io.weight", "default " + std::to_string(blkioToIoWeight(*b.weight)));
    for (const auto& d : b.weightDevice)
      if (d.weight)
        add(w, "io", "io.weight",
            std::to_string(d.major) + ":" + std::to_string(d.minor) + " " +
                std::to_string(blkioToIoWeight(*d.weight)));
    auto thr = [&](const char* key, const std::vector<oci::ThrottleDevice>& v) {
      for (const auto& t : v)
        add(w, "io", "io.max",
            std::to_string(t.major) + ":" + std::to_string(t.minor) + " " + key + "=" +
                std::to_string(t.rate));
    };
    thr("rbps", b.throttleReadBpsDevice);
    thr("wbps", b.throttleWriteBpsDevice);
    thr("riops", b.throttleReadIOPSDevice);
    thr("wiops", b.throttleWriteIOPSDevice);
  }
  for (const auto& h : r.hugepageLimits) {
    BERTH_ASSIGN(std::string size, hugeSize(h.pageSize));
    add(w, "hugetlb", "hugetlb." + size + ".max", std::to_string(h.limit));
  }
  if (r.network && (r.network->classID || !r.network->priorities.empty()))
    return fail(ErrorCode::kInvalidArgument, "resources.network: not supported on cgroup v2");
  for (const auto& [file, value] : r.unified) {
    if (file.find('/') != std::string::npos || file.find('.') == std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "resources.unified: bad file name \"" + file + "\"");
    add(w, file.substr(0, file.find('.')).c_str(), file, value);
  }
  return w;
}

}  // namespace berth::runtime

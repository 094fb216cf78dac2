#pragma once
/// OCI runtime-spec (config.json, version 1.x) as typed structs, with a strict parser, a
/// serializer, and the default spec `runc spec` writes.
///
/// Strict means: a field of the wrong JSON type, a missing required field, an unknown
/// namespace type, or malformed/truncated JSON is an error whose one-line message names the
/// field ("config.json: process.args[1]: expected string"). Unknown *keys* are ignored, as
/// the spec allows extensions. Optional fields that are absent keep their defaults;
/// std::optional marks fields where "absent" differs from any value.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::oci {

inline constexpr const char* kOciVersion = "1.0.2";

struct Rlimit {
  std::string type;  ///< "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additionalGids;
  std::string username;  ///< Windows only; kept for round trips
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> consoleSize;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::string apparmorProfile;
  std::optional<int> oomScoreAdj;
  std::string selinuxLabel;
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  std::vector<std::string> uidMappings, gidMappings;  ///< unused (idmapped mounts)
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  ///< seconds; > 0
};

struct Hooks {
  std::vector<Hook> prestart, createRuntime, createContainer, startContainer, poststart,
      poststop;
  bool empty() const {
    return prestart.empty() && createRuntime.empty() && createContainer.empty() &&
           startContainer.empty() && poststart.empty() && poststop.empty();
  }
};

/// Namespace types as in config.json: pid network mount ipc uts user cgroup time.
enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };
std::string_view namespaceTypeName(NamespaceType t);
std::optional<NamespaceType> parseNamespaceType(std::string_view name);

struct Namespace {
  NamespaceType type = NamespaceType::kPid;
  std::string path;  ///< join this namespace if non-empty
};

struct IdMapping {
  uint32_t containerID = 0;
  uint32_t hostID = 0;
  uint32_t size = 0;
};

struct Device {
  std::string type;  ///< "c", "b", "u", "p"
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> fileMode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  ///< "a", "c", "b" ("" = all)
  std::optional<int64_t> major, minor;
  std::string access;  ///< "rwm"
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernelTCP;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disableOOMKiller, useHierarchy, checkBeforeUpdate;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota, burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtimeRuntime;
  std::optional<uint64_t> realtimePeriod;
  std::string cpus, mems;
  std::optional<int64_t> idle;
};

struct PidsResources {
  int64_t limit = 0;
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leafWeight;
};
struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};
struct BlockIoResources {
  std::optional<uint16_t> weight, leafWeight;
  std::vector<WeightDevice> weightDevice;
  std::vector<ThrottleDevice> throttleReadBpsDevice, throttleWriteBpsDevice,
      throttleReadIOPSDevice, throttleWriteIOPSDevice;
};

struct HugepageLimit {
  std::string pageSize;  ///< "2MB"
  uint64_t limit = 0;
};

struct NetworkResources {
  std::optional<uint32_t> classID;
  std::vector<std::pair<std::string, uint32_t>> priorities;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> blockIO;
  std::vector<HugepageLimit> hugepageLimits;
  std::optional<NetworkResources> network;
  std::map<std::string, std::string> unified;  ///< raw cgroup v2 files
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t valueTwo = 0;
  std::string op;  ///< SCMP_CMP_EQ ...
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  ///< SCMP_ACT_*
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures;  ///< SCMP_ARCH_*
  std::vector<std::string> flags;          ///< SECCOMP_FILTER_FLAG_*
  std::string listenerPath;
  std::string listenerMetadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Linux {
  std::vector<IdMapping> uidMappings, gidMappings;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroupsPath;
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfsPropagation;
  std::vector<std::string> maskedPaths;
  std::vector<std::string> readonlyPaths;
  std::string mountLabel;
  std::map<std::string, int64_t> timeOffsets;  ///< "monotonic"/"boottime" -> seconds

  bool hasNamespace(NamespaceType t) const;
  const Namespace* findNamespace(NamespaceType t) const;
};

struct Spec {
  std::string ociVersion = kOciVersion;
  std::optional<Process> process;  ///< required by `create`, optional in the schema
  std::optional<Root> root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
};

/// Parse config.json text. Errors: kInvalidArgument "config.json: <field>: <what>".
Result<Spec> parseSpec(std::string_view json);
/// Parse only a process object (used by `exec --process FILE`).
Result<Process> parseProcess(std::string_view json);
/// Parse a linux.resources object (used by `update -r FILE`).
Result<Resources> parseResources(std::string_view json);
/// Serialize (pretty, 2-space indent). parseSpec(toJson(s)) == s for every field modelled.
std::string toJson(const Spec& spec);
/// What `runc spec` writes: `sh` with a terminal, default mounts, masked and readonly paths,
/// the default capability set, namespaces pid/network/ipc/uts/mount, rootfs "rootfs".
Spec defaultSpec();
/// `defaultSpec()` adjusted for rootless use (`spec --rootless`): user namespace with
/// mappings for `uid`/`gid`, no network namespace, sysfs bind mounted.
Spec rootlessSpec(uint32_t uid, uint32_t gid);

}  // namespace berth::oci

#pragma once
/// Turning an oci::Process into a running process: capabilities, user and groups, rlimits,
/// console, fds, executable lookup. Parsing/validation functions run in the caller (so bad
/// input fails before any fork); the apply* functions run in the child just before exec.

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

/// Capability sets as bit masks (bit n = capability n).
struct CapSets {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};
/// "CAP_SYS_ADMIN" -> 21; -1 if unknown.
int capFromName(std::string_view name);
/// Every capability name this kernel knows, by number.
const std::vector<std::string>& allCapNames();
/// Errors: unknown capability name (kInvalidArgument naming it).
Result<CapSets> parseCaps(const std::optional<oci::Capabilities>& caps);

struct ParsedRlimit {
  int resource;
  uint64_t soft, hard;
};
/// Errors: unknown RLIMIT_ name, soft > hard.
Result<std::vector<ParsedRlimit>> parseRlimits(const std::vector<oci::Rlimit>& rl);

/// In the child: setrlimit each.
Result<void> applyRlimits(const std::vector<ParsedRlimit>& rl);
/// In the child: bounding set, groups, gid, uid (keeping caps), capset, ambient.
Result<void> applyUserAndCaps(const oci::User& user, const CapSets& caps, bool setGroups);
/// In the child: open a pty in the container's /dev/pts, send the master over `socketFd`
/// (SCM_RIGHTS), make the slave the controlling terminal and stdio.
Result<void> setupConsole(int socketFd, const std::optional<oci::ConsoleSize>& size);
/// Send `fd` over the unix socket `sock` with SCM_RIGHTS, `name` as payload.
Result<void> sendFd(int sock, int fd, const std::string& name);
/// Receive one fd sent with sendFd.
Result<int> recvFd(int sock);
/// Connect to a unix socket path (SOCK_STREAM).
Result<int> connectUnix(const std::string& path);
/// dup2 the given fds onto 0/1/2 (-1 keeps the inherited one).
Result<void> setupStdio(int in, int out, int err);
/// Mark every fd >= `from` close-on-exec (the container sees only what it was given).
void cloexecFrom(int from);
/// Resolve args[0] against PATH in `env` (inside the current root). Errors: ENOENT, EACCES.
Result<std::string> findExecutable(const std::string& name, const std::vector<std::string>& env);
/// chdir into `cwd` and verify the result is inside the current root (CVE-2024-21626).
Result<void> enterCwd(const std::string& cwd);

}  // namespace berth::runtime

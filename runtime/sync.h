#pragma once
/// Messages between the runtime (parent) and the container init over a SOCK_SEQPACKET pair.
/// One message = one type byte + payload. Each side blocks on the other only at fixed points.

#include <string>

#include "common/error.h"

namespace berth::runtime {

enum class SyncMsg : char {
  kGo = 'G',         ///< parent -> init: cgroups joined, id maps written; payload: state JSON
  kHooks = 'H',      ///< init -> parent: namespaces and mounts ready, run createRuntime hooks
  kHooksDone = 'h',  ///< parent -> init
  kReady = 'R',      ///< init -> parent: set up, now blocking on the exec fifo
  kPid = 'P',        ///< helper -> parent: host pid of the init (payload decimal)
  kError = 'E',      ///< init -> parent: payload is the one-line error
};

Result<void> sendSync(int fd, SyncMsg type, std::string_view payload = {});
/// Receive one message. EOF (the peer died or exec'd) gives an error with code EPIPE.
Result<std::pair<SyncMsg, std::string>> recvSync(int fd);

}  // namespace berth::runtime

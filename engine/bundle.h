#pragma once
/// The OCI runtime spec of a container, built from its ContainerConfig (flags merged with the
/// image config) at start time, when its rootfs is mounted (user names resolve against the
/// container's own /etc/passwd, read safely with RESOLVE_IN_ROOT).

#include <string>

#include "common/error.h"
#include "engine/paths.h"
#include "engine/record.h"
#include "oci/image_spec.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

/// Fill image-dependent parts of `c` from the image config: args (entrypoint+cmd rules of
/// Docker), env (image first, flags override), workdir, user, stop signal, healthcheck, -P
/// ports, anonymous volumes for image VOLUMEs. kInvalidArgument "no command specified" if
/// no args result.
Result<void> mergeImageConfig(ContainerConfig& c, const oci::ImageConfig& img);

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additionalGids;
};
/// "name", "uid", "name:group", "uid:gid" against <rootfs>/etc/passwd and /etc/group.
/// kInvalidArgument "unable to find user NAME: no matching entries in passwd file".
Result<ResolvedUser> resolveUser(const std::string& rootfs, const std::string& user);

/// Where berth's static init binary is (beside the berth executable), for --init.
std::string initBinaryPath();

/// The spec: rootfs at paths.rootfs(id), netns path (empty: the host's network), hosts files,
/// mounts, resources, caps, seccomp, rlimits.
Result<oci::Spec> buildSpec(const Record& r, const Paths& paths, const std::string& netnsPath);

}  // namespace berth::engine

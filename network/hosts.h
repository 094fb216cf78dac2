#pragma once
/// The files berth bind-mounts into each container: /etc/hosts (with the names of the other
/// containers on its networks, which is how containers reach each other by name),
/// /etc/resolv.conf and /etc/hostname.

#include <string>
#include <vector>

#include "common/error.h"

namespace berth::network {

struct HostEntry {
  std::string ip;
  std::vector<std::string> names;
};

/// /etc/hosts: localhost lines, then `self` entries, then `peers` (sorted, stable output).
std::string renderHosts(const std::vector<HostEntry>& self, const std::vector<HostEntry>& peers);

/// resolv.conf from the host's, dropping loopback nameservers (unreachable from a netns);
/// if none remain and `allowEmpty` is false, nothing is added (no internet here anyway).
std::string renderResolvConf(const std::string& hostResolvConf);

/// Rewrite `path` in place (truncate + write): the file is bind-mounted into a running
/// container, so a rename would leave the container with the old inode.
Result<void> rewriteInPlace(const std::string& path, const std::string& content);

}  // namespace berth::network

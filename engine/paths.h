#pragma once
/// Where a container's files live. <root> survives reboots; <runroot> is runtime state.
///   <root>/engine.db                       records (SQLite, WAL)
///   <root>/containers/<id>/                rootfs (mount point), upper/, work/, hosts,
///                                          resolv.conf, hostname, <id>-json.log[.N]
///   <root>/volumes/<name>/_data            named and anonymous volumes
///   <runroot>/netns/<id>                   the pinned network namespace
///   <runroot>/runtime/<id>/                the runtime's state

#include <string>

namespace berth::engine {

struct Paths {
  std::string root, runroot;
  std::string containerDir(const std::string& id) const { return root + "/containers/" + id; }
  std::string rootfs(const std::string& id) const { return containerDir(id) + "/rootfs"; }
  std::string upper(const std::string& id) const { return containerDir(id) + "/upper"; }
  std::string work(const std::string& id) const { return containerDir(id) + "/work"; }
  std::string hosts(const std::string& id) const { return containerDir(id) + "/hosts"; }
  std::string resolv(const std::string& id) const { return containerDir(id) + "/resolv.conf"; }
  std::string hostname(const std::string& id) const { return containerDir(id) + "/hostname"; }
  std::string log(const std::string& id) const {
    return containerDir(id) + "/" + id + "-json.log";
  }
  std::string volumeData(const std::string& name) const {
    return root + "/volumes/" + name + "/_data";
  }
  std::string volumeDir(const std::string& name) const { return root + "/volumes/" + name; }
  std::string netns(const std::string& id) const { return runroot + "/netns/" + id; }
  std::string runtimeRoot() const { return runroot + "/runtime"; }
};

}  // namespace berth::engine

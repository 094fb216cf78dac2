#include "runtime/sys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace berth::runtime {

Result<void> writeKernelFile(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return failErrno("open " + path);
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) return failErrno("write " + path);
  if (static_cast<size_t>(n) != data.size()) return fail(Error(EIO, "short write " + path));
  return {};
}

namespace {

class LinuxSys final : public Sys {
 public:
  Result<void> writeFile(const std::string& path, std::string_view data) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return failErrno("open " + path);
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) return failErrno("write " + path + " \"" + std::string(data) + "\"");
    if (static_cast<size_t>(n) != data.size()) return fail(Error(EIO, "short write " + path));
    return {};
  }
  Result<std::string> readFile(const std::string& path) override { return fs::readFile(path); }
  Result<void> mkdir(const std::string& path, mode_t mode) override {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return failErrno("mkdir " + path);
    return {};
  }
  Result<void> rmdir(const std::string& path) override {
    if (::rmdir(path.c_str()) < 0 && errno != ENOENT) return failErrno("rmdir " + path);
    return {};
  }
  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<void> setDeviceFilter(const std::string& dir, const BpfProgram& prog) override {
    return attachDeviceFilter(dir, prog);
  }
  Result<void> clearDeviceFilter(const std::string& dir) override {
    return detachDeviceFilters(dir);
  }
};

}  // namespace

Sys& realSys() {
  static LinuxSys sys;
  return sys;
}

}  // namespace berth::runtime

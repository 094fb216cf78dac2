#pragma once
// Helpers for the `berth build` integration tests: a temp store, running the berth binary,
// writing contexts, and reading files out of a built image.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "image/store.h"

namespace berth::buildtest {

struct CmdResult {
  int code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Run a shell command line; returns exit code and combined output.
CmdResult sh(const std::string& cmd);

/// A test fixture with a temp --root/--runroot and busybox:latest imported.
class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// `berth --root R --runroot RR <args>`
  CmdResult berth(const std::string& args);
  /// Write files (path -> content) into a fresh context dir; returns its path.
  std::string context(const std::map<std::string, std::string>& files);
  void write(const std::string& path, const std::string& content);
  /// Content of `path` in image `name` (top layer down), nullopt if absent.
  std::optional<std::string> imageFile(const std::string& name, const std::string& path);
  Result<image::Image> resolve(const std::string& name);
  /// Number of images in the store.
  size_t imageCount();
  /// Things a failed build must not leave: mounts under the root, runtime state, temp dirs.
  void expectNothingLeftBehind();

  std::string tmp_, root_, runroot_;
  int ctxCount_ = 0;
};

/// Count lines of `out` that contain `needle`.
int countLines(const std::string& out, const std::string& needle);

}  // namespace berth::buildtest

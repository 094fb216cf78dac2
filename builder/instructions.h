#pragma once
/// What the non-filesystem instructions do to a stage: variables in scope (ARG and ENV, and
/// which of them a step sees) and the image config (ENV, LABEL, EXPOSE, CMD, ENTRYPOINT,
/// USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER). Pure
/// functions of their inputs: unit-tested without a store or a kernel.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile.h"
#include "builder/lexer.h"
#include "common/error.h"
#include "oci/image_spec.h"

namespace berth::build {

inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The variables of one stage while it is built.
struct StageVars {
  VarMap args;  ///< ARGs declared in this stage, with their values
  /// ARG before ENV: what `$VAR` means in ADD/COPY/ENV/... (ENV wins over ARG of one name).
  VarMap substitution(const oci::ImageConfig& cfg) const;
  /// The environment of a RUN step: the config's Env plus ARGs that ENV does not shadow,
  /// and PATH if missing.
  std::vector<std::string> runEnv(const oci::ImageConfig& cfg) const;
  /// "K=V\n" lines of the ARGs, sorted: the part of a cache key that build args change.
  std::string keyText() const;
};

/// Apply `ARG` (declares names; value = --build-arg, else the default, else the global ARG
/// of that name). Marks used build args in `consumed`.
Result<void> applyArg(const Lexer& lx, const Instruction& ins, const VarMap& buildArgs,
                      const VarMap& globalArgs, const oci::ImageConfig& cfg, StageVars& vars);

/// Apply one metadata instruction (everything but FROM, RUN, COPY, ADD, ARG) to `cfg`.
/// `cmdSetHere` tracks whether CMD was set in this stage (ENTRYPOINT clears an inherited
/// CMD, as Docker does). Errors are "Dockerfile:LINE: ...".
Result<void> applyMetadata(const Lexer& lx, const Instruction& ins, const StageVars& vars,
                           oci::ImageConfig& cfg, bool& cmdSetHere);

/// The command a RUN/CMD/ENTRYPOINT runs: the JSON form as is, the shell form as
/// SHELL (default ["/bin/sh", "-c"]) + [text].
std::vector<std::string> commandOf(const Instruction& ins, const oci::ImageConfig& cfg);

/// The script a RUN with heredocs hands to the shell: the body alone for `RUN <<EOF`,
/// else the command line followed by each body and its delimiter (the shell then reads them).
std::string runScript(const Instruction& ins);

/// Go-style duration ("30s", "1m30s", "500ms", "2h") in nanoseconds; nullopt on junk.
std::optional<int64_t> parseDuration(std::string_view s);

/// Set or replace KEY in a "KEY=value" list.
void setEnv(std::vector<std::string>& env, const std::string& key, const std::string& value);

/// WORKDIR `dir` relative to the current working dir, cleaned, absolute.
std::string resolveWorkdir(const std::string& current, const std::string& dir);

}  // namespace berth::build

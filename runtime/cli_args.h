#pragma once
/// A small urfave/cli-compatible flag parser for runc's verbs: --flag value, --flag=value,
/// -f value, boolean --flag / --flag=true|false, repeatable flags, positional args.

#include <string>
#include <vector>

#include "common/error.h"

namespace berth::runtime {

struct FlagSpec {
  const char* name;  ///< long name without dashes
  char shortName;    ///< 0 if none
  bool takesValue;
};

struct VerbSpec {
  std::string name;
  std::vector<FlagSpec> flags;
  /// Stop parsing flags at the first positional arg (exec ID CMD --flags-of-cmd).
  bool stopAtFirstPositional = false;
};

struct Args {
  std::vector<std::pair<std::string, std::string>> values;  ///< (flag, value), in order
  std::vector<std::string> positional;
  bool has(const std::string& f) const;
  /// Last value of `f`, or `def`.
  std::string get(const std::string& f, const std::string& def = "") const;
  std::vector<std::string> all(const std::string& f) const;
  /// Boolean flag: present without value, or "true".
  bool flag(const std::string& f) const;
};

/// Errors: unknown flag, missing value.
Result<Args> parseArgs(const VerbSpec& spec, int argc, char** argv);

}  // namespace berth::runtime

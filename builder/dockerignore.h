#pragma once
/// `.dockerignore` with Docker's rules: one pattern per line, `#` comments, blank lines
/// skipped, patterns cleaned and anchored at the context root (a leading `/` is dropped),
/// `*` and `?` never cross '/', `**` matches any number of directories (zero included),
/// `[...]` classes, `\` escapes, `!pattern` re-includes, and the LAST matching line wins.
/// A pattern that matches a directory matches everything below it.

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::build {

class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  /// Parse .dockerignore text.
  static IgnoreMatcher parse(std::string_view text);

  /// True if `relPath` (slash-separated, relative to the context root, no leading "./")
  /// is excluded from the context.
  bool excluded(std::string_view relPath) const;
  /// True if some `!` exception exists (then excluded directories must still be walked).
  bool hasExceptions() const { return hasExceptions_; }
  bool empty() const { return patterns_.empty(); }

 private:
  struct Pattern {
    std::vector<std::string> parts;  ///< split at '/'
    bool exception = false;
  };
  std::vector<Pattern> patterns_;
  bool hasExceptions_ = false;
};

/// Match one path component against a glob component (`*`, `?`, `[...]`, `\x`), like Go's
/// filepath.Match for a single element. Also used for COPY wildcards.
bool globMatch(std::string_view pattern, std::string_view name);
/// True if the string has glob metacharacters.
bool hasGlob(std::string_view s);

}  // namespace berth::build

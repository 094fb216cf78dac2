#pragma once
/// Docker's word rules for Dockerfile arguments: quotes, the escape character and variable
/// substitution ($VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt},
/// ${VAR:?message}, ${VAR?message}).
///
/// Substitution happens only where Docker does it (ADD, COPY, ENV, EXPOSE, FROM, LABEL,
/// STOPSIGNAL, USER, VOLUME, WORKDIR, ARG defaults, and the flag values of those): RUN, CMD
/// and ENTRYPOINT are left to the shell inside the container. The callers decide; this file
/// only knows how.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::build {

/// Variables visible to a substitution, by name.
using VarMap = std::map<std::string, std::string, std::less<>>;

class Lexer {
 public:
  explicit Lexer(char escape = '\\') : escape_(escape) {}

  /// Expand variables and remove quotes and escapes, keeping the whole input as one word
  /// (`ENV A "x y"` -> `x y`). Errors: an unterminated quote or `${`, a bad `${...}` form,
  /// or `${VAR:?message}` with VAR unset/empty. The error message has no line prefix.
  Result<std::string> processWord(std::string_view s, const VarMap& vars) const;

  /// Like processWord but split into words at unquoted whitespace. As in Docker, the value
  /// of an unquoted `$VAR` is split too, quoted text never is.
  Result<std::vector<std::string>> processWords(std::string_view s, const VarMap& vars) const;

  /// Expand variables only: quotes are ordinary characters, the escape char protects only
  /// '$' and itself (the text of an unquoted `COPY <<EOF` heredoc).
  Result<std::string> expandOnly(std::string_view s, const VarMap& vars) const;

  /// Split at unquoted whitespace WITHOUT expanding or removing quotes/escapes (Docker's
  /// parseWords, used to cut `k=v k2="a b"` into pairs before substituting each one).
  /// Errors on an unterminated quote.
  Result<std::vector<std::string>> splitRaw(std::string_view s) const;

  char escape() const { return escape_; }

 private:
  char escape_;
};

}  // namespace berth::build

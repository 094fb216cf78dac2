#pragma once
/// Dockerfile syntax: lines, continuations, comments, parser directives, instruction flags,
/// JSON (exec) vs shell form, and heredocs. No variable substitution here: that depends on
/// build state and is done by the stage planner and the executor with build::Lexer.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace berth::build {

/// One `<<NAME` here-document attached to RUN, COPY or ADD.
struct Heredoc {
  std::string name;     ///< delimiter word, also the file name for `COPY <<NAME dest`
  std::string content;  ///< body lines, each ending in '\n'
  bool expand = true;   ///< false when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`)
  bool chomp = false;   ///< `<<-EOF`: leading tabs were stripped from the body
};

struct Instruction {
  std::string keyword;   ///< upper case: "RUN", "COPY", ...
  std::string original;  ///< the instruction as written (continuations joined), no heredoc bodies
  std::string args;      ///< text after the keyword and the flags, leading/trailing space trimmed
  std::vector<std::pair<std::string, std::string>> flags;  ///< `--name=value` ("" for `--name`)
  bool jsonForm = false;            ///< args were a JSON array of strings
  std::vector<std::string> json;    ///< that array
  std::vector<Heredoc> heredocs;    ///< in order of appearance
  int line = 0;                     ///< 1-based line of the keyword
  int endLine = 0;                  ///< last line the instruction (incl. heredocs) used

  /// Value of flag `name` ("" if given without value); nullptr when absent.
  const std::string* flag(std::string_view name) const;
};

struct Dockerfile {
  char escape = '\\';
  std::string syntax;  ///< `# syntax=` directive, accepted and ignored
  std::vector<Instruction> instructions;
};

/// "Dockerfile:12: message" — every build error that points into the Dockerfile looks so.
Error lineError(int line, std::string_view message);

/// Parse Dockerfile text. Errors (as lineError): unknown instruction, an instruction without
/// its required arguments, an unknown or misplaced flag, an unterminated heredoc, an invalid
/// escape directive, a file with no instructions.
Result<Dockerfile> parseDockerfile(std::string_view text);

/// True for the instructions berth knows.
bool isKnownInstruction(std::string_view upperKeyword);

}  // namespace berth::build

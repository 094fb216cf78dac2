#include "builder/dockerfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "common/strings.h"

namespace berth::build {
namespace {

constexpr std::array<std::string_view, 18> kInstructions = {
    "FROM", "RUN",  "CMD",        "LABEL",  "MAINTAINER", "EXPOSE",  "ENV",        "ADD",  "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"};

/// Flags each instruction accepts (anything else is an error, like Docker).
std::vector<std::string_view> allowedFlags(std::string_view kw) {
  if (kw == "FROM") return {"platform"};
  if (kw == "RUN") return {"mount", "network", "security"};
  if (kw == "COPY") return {"from", "chown", "chmod", "link", "parents", "exclude"};
  if (kw == "ADD") return {"chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"};
  if (kw == "HEALTHCHECK")
    return {"interval", "timeout", "start-period", "start-interval", "retries"};
  return {};
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}
std::string_view ltrimView(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

/// A line continues when its last non-blank char is the escape char.
bool continues(std::string& line, char escape) {
  std::string t = rtrim(line);
  if (!t.empty() && t.back() == escape) {
    t.pop_back();
    line = std::move(t);
    return true;
  }
  return false;
}

bool isCommentLine(std::string_view line) {
  auto t = ltrimView(line);
  return !t.empty() && t[0] == '#';
}
bool isBlank(std::string_view line) { return str::trim(line).empty(); }

/// `# key=value` parser directive; nullopt if the line is not one.
std::optional<std::pair<std::string, std::string>> directive(std::string_view line) {
  auto t = str::trim(line);
  if (t.empty() || t[0] != '#') return std::nullopt;
  t = str::trim(t.substr(1));
  auto eq = t.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string key = str::toLower(str::trim(t.substr(0, eq)));
  if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      }))
    return std::nullopt;
  return std::make_pair(key, std::string(str::trim(t.substr(eq + 1))));
}

/// Find `<<NAME`, `<<-NAME`, `<<"NAME"`, `<<'NAME'` words in a RUN/COPY/ADD argument string.
std::vector<Heredoc> findHeredocs(std::string_view args) {
  std::vector<Heredoc> out;
  size_t i = 0;
  char quote = 0;
  while (i + 1 < args.size()) {
    char c = args[i];
    if (quote) {
      if (c == quote) quote = 0;
      ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      ++i;
      continue;
    }
    if (c == '<' && args[i + 1] == '<' && (i + 2 >= args.size() || args[i + 2] != '<') &&
        (i == 0 || args[i - 1] != '<')) {
      size_t j = i + 2;
      Heredoc h;
      if (j < args.size() && args[j] == '-') h.chomp = true, ++j;
      char q = 0;
      if (j < args.size() && (args[j] == '\'' || args[j] == '"')) q = args[j++];
      std::string name;
      while (j < args.size() && (std::isalnum(static_cast<unsigned char>(args[j])) ||
                                 args[j] == '_' || args[j] == '.' || args[j] == '-'))
        name += args[j++];
      if (q && j < args.size() && args[j] == q) ++j, h.expand = false;
      if (!name.empty()) {
        h.name = name;
        out.push_back(std::move(h));
      }
      i = j;
      continue;
    }
    ++i;
  }
  return out;
}

}  // namespace

const std::string* Instruction::flag(std::string_view name) const {
  for (auto& [k, v] : flags)
    if (k == name) return &v;
  return nullptr;
}

Error lineError(int line, std::string_view message) {
  return Error(ErrorCode::kInvalidArgument,
               "Dockerfile:" + std::to_string(line) + ": " + std::string(message));
}

bool isKnownInstruction(std::string_view kw) {
  return std::find(kInstructions.begin(), kInstructions.end(), kw) != kInstructions.end();
}

Result<Dockerfile> parseDockerfile(std::string_view text) {
  Dockerfile df;
  std::vector<std::string> lines = str::split(text, '\n');
  if (!text.empty() && text.back() == '\n') lines.pop_back();
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  if (!lines.empty() && str::startsWith(lines[0], "\xEF\xBB\xBF")) lines[0].erase(0, 3);

  size_t i = 0;
  // Parser directives: only at the very top, before any blank line, comment or instruction.
  while (i < lines.size()) {
    auto d = directive(lines[i]);
    if (!d) break;
    if (d->first == "escape") {
      if (d->second != "\\" && d->second != "`")
        return fail(lineError(static_cast<int>(i + 1),
                              "invalid escape token '" + d->second + "' does not match ` or \\"));
      df.escape = d->second[0];
    } else if (d->first == "syntax") {
      df.syntax = d->second;
    } else if (d->first != "check") {
      break;  // an ordinary comment that happens to contain '=' ends the directives
    }
    ++i;
  }

  while (i < lines.size()) {
    if (isBlank(lines[i]) || isCommentLine(lines[i])) {
      ++i;
      continue;
    }
    Instruction ins;
    ins.line = static_cast<int>(i + 1);
    std::string joined(ltrimView(lines[i]));
    while (continues(joined, df.escape)) {
      ++i;
      // Comment and blank lines inside a continuation are skipped, as Docker does.
      while (i < lines.size() && (isCommentLine(lines[i]) || isBlank(lines[i]))) ++i;
      if (i >= lines.size()) break;
      joined += lines[i];
    }
    ins.endLine = static_cast<int>(std::min(i, lines.size() - 1) + 1);
    ins.original = rtrim(std::string(str::trim(joined)));

    std::string_view rest = ins.original;
    size_t sp = rest.find_first_of(" \t");
    ins.keyword = str::toLower(rest.substr(0, sp));
    std::transform(ins.keyword.begin(), ins.keyword.end(), ins.keyword.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    rest = sp == std::string_view::npos ? std::string_view() : ltrimView(rest.substr(sp));
    if (!isKnownInstruction(ins.keyword))
      return fail(lineError(ins.line, "unknown instruction: " + std::string(ins.original.substr(
                                                                   0, sp))));

    // Flags: leading `--name[=value]` words.
    auto allowed = allowedFlags(ins.keyword);
    while (str::startsWith(rest, "--")) {
      size_t end = rest.find_first_of(" \t");
      std::string_view word = rest.substr(0, end);
      if (word == "--") break;
      auto [name, value] = str::splitOnce(word.substr(2), '=');
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
        return fail(lineError(ins.line, "unknown flag: --" + name + " for " + ins.keyword));
      ins.flags.emplace_back(name, value.value_or(""));
      rest = end == std::string_view::npos ? std::string_view() : ltrimView(rest.substr(end));
    }
    ins.args = std::string(str::trim(rest));

    // Heredocs (RUN, COPY, ADD): the bodies follow the instruction line.
    if (ins.keyword == "RUN" || ins.keyword == "COPY" || ins.keyword == "ADD") {
      ins.heredocs = findHeredocs(ins.args);
      for (auto& h : ins.heredocs) {
        bool closed = false;
        while (++i < lines.size()) {
          std::string body = lines[i];
          if (h.chomp) body.erase(0, body.find_first_not_of('\t') == std::string::npos
                                         ? body.size()
                                         : body.find_first_not_of('\t'));
          if (body == h.name) {
            closed = true;
            break;
          }
          h.content += body + "\n";
        }
        if (!closed)
          return fail(lineError(ins.line, "unterminated heredoc <<" + h.name +
                                              " (no line with just " + h.name + ")"));
      }
      if (!ins.heredocs.empty()) ins.endLine = static_cast<int>(i + 1);
    }

    // JSON form.
    if (!ins.args.empty() && ins.args[0] == '[') {
      auto j = nlohmann::json::parse(ins.args, nullptr, false);
      if (!j.is_discarded() && j.is_array() &&
          std::all_of(j.begin(), j.end(), [](auto& e) { return e.is_string(); })) {
        ins.jsonForm = true;
        for (auto& e : j) ins.json.push_back(e.template get<std::string>());
      }
    }

    if (ins.args.empty() && ins.heredocs.empty() && !ins.jsonForm)
      return fail(lineError(ins.line, ins.keyword + " requires at least one argument"));
    df.instructions.push_back(std::move(ins));
    ++i;
  }
  if (df.instructions.empty())
    return fail(ErrorCode::kInvalidArgument, "Dockerfile: file with no instructions");
  return df;
}

}  // namespace berth::build

#include "builder/lexer.h"

#include <cctype>
#include <optional>

namespace berth::build {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/// Collects words the way Docker's wordsStruct does: "raw" text never breaks a word.
class Words {
 public:
  void addRune(char c) {
    if (isSpace(c)) {
      if (inWord_) flush();
      return;
    }
    cur_ += c;
    inWord_ = true;
  }
  void addRaw(std::string_view s) {
    cur_ += s;
    inWord_ = true;
  }
  void addSplit(std::string_view s) {
    for (char c : s) addRune(c);
  }
  std::vector<std::string> take() {
    if (inWord_) flush();
    return std::move(words_);
  }

 private:
  void flush() {
    words_.push_back(std::move(cur_));
    cur_.clear();
    inWord_ = false;
  }
  std::vector<std::string> words_;
  std::string cur_;
  bool inWord_ = false;
};

class Scanner {
 public:
  Scanner(std::string_view s, char escape, const VarMap* vars, bool rawQuotes = false)
      : s_(s), escape_(escape), vars_(vars), rawQuotes_(rawQuotes) {}

  /// Process until `stop` (consumed) or the end. `sawStop` tells which.
  Result<std::string> process(std::optional<char> stop, Words* words, bool* sawStop = nullptr) {
    std::string out;
    if (sawStop) *sawStop = false;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (stop && c == *stop) {
        ++pos_;
        if (sawStop) *sawStop = true;
        return out;
      }
      if (rawQuotes_ && c != '$') {
        ++pos_;
        if (c == escape_ && pos_ < s_.size() && (s_[pos_] == '$' || s_[pos_] == escape_))
          c = s_[pos_++];
        out += c;
        continue;
      }
      if (c == '\'') {
        BERTH_ASSIGN(std::string t, singleQuote());
        out += t;
        if (words) words->addRaw(t);
      } else if (c == '"') {
        BERTH_ASSIGN(std::string t, doubleQuote());
        out += t;
        if (words) words->addRaw(t);
      } else if (c == '$' && vars_) {
        BERTH_ASSIGN(std::string t, dollar());
        out += t;
        if (words) words->addSplit(t);
      } else {
        ++pos_;
        if (c == escape_) {
          if (pos_ >= s_.size()) break;  // a trailing escape is dropped
          c = s_[pos_++];
          if (words) words->addRaw(std::string_view(&c, 1));
        } else if (words) {
          words->addRune(c);
        }
        out += c;
      }
    }
    return out;
  }

 private:
  Result<std::string> singleQuote() {
    ++pos_;
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '\'') return out;
      out += c;
    }
    return fail(ErrorCode::kInvalidArgument, "unexpected end of statement while looking for matching single-quote");
  }

  Result<std::string> doubleQuote() {
    ++pos_;
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '$' && vars_) {
        BERTH_ASSIGN(std::string t, dollar());
        out += t;
        continue;
      }
      ++pos_;
      if (c == escape_ && pos_ < s_.size()) {
        char n = s_[pos_];
        if (n == '"' || n == '$' || n == escape_) {
          c = n;
          ++pos_;
        }
      }
      out += c;
    }
    return fail(ErrorCode::kInvalidArgument, "unexpected end of statement while looking for matching double-quote");
  }

  std::optional<std::string> lookup(const std::string& name) const {
    auto it = vars_->find(name);
    if (it == vars_->end()) return std::nullopt;
    return it->second;
  }

  Result<std::string> dollar() {
    ++pos_;  // '$'
    if (pos_ >= s_.size()) return std::string("$");
    if (s_[pos_] != '{') {
      std::string name;
      while (pos_ < s_.size() && isNameChar(s_[pos_])) name += s_[pos_++];
      if (name.empty()) return std::string("$");
      return lookup(name).value_or("");
    }
    ++pos_;  // '{'
    std::string name;
    while (pos_ < s_.size() && isNameChar(s_[pos_])) name += s_[pos_++];
    if (pos_ >= s_.size())
      return fail(ErrorCode::kInvalidArgument, "missing '}' in variable substitution");
    if (name.empty())
      return fail(ErrorCode::kInvalidArgument,
                  std::string("bad substitution: ${ must be followed by a variable name"));
    char c = s_[pos_];
    if (c == '}') {
      ++pos_;
      return lookup(name).value_or("");
    }
    bool colon = false;
    if (c == ':') {
      colon = true;
      ++pos_;
      if (pos_ >= s_.size())
        return fail(ErrorCode::kInvalidArgument, "missing '}' in variable substitution");
      c = s_[pos_];
    }
    if (c != '-' && c != '+' && c != '?')
      return fail(ErrorCode::kInvalidArgument,
                  "unsupported modifier (" + std::string(1, c) + ") in substitution ${" + name +
                      "...}");
    ++pos_;
    bool sawStop = false;
    BERTH_ASSIGN(std::string word, process('}', nullptr, &sawStop));
    if (!sawStop) return fail(ErrorCode::kInvalidArgument, "missing '}' in variable substitution");
    auto v = lookup(name);
    bool set = v.has_value() && (!colon || !v->empty());
    switch (c) {
      case '-':
        return set ? *v : word;
      case '+':
        return set ? word : std::string();
      default:  // '?'
        if (!set)
          return fail(ErrorCode::kInvalidArgument,
                      name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        return *v;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  char escape_;
  const VarMap* vars_;
  bool rawQuotes_;
};

}  // namespace

Result<std::string> Lexer::processWord(std::string_view s, const VarMap& vars) const {
  Scanner sc(s, escape_, &vars);
  return sc.process(std::nullopt, nullptr);
}

Result<std::vector<std::string>> Lexer::processWords(std::string_view s,
                                                     const VarMap& vars) const {
  Scanner sc(s, escape_, &vars);
  Words w;
  BERTH_TRY(sc.process(std::nullopt, &w));
  return w.take();
}

Result<std::string> Lexer::expandOnly(std::string_view s, const VarMap& vars) const {
  Scanner sc(s, escape_, &vars, true);
  return sc.process(std::nullopt, nullptr);
}

Result<std::vector<std::string>> Lexer::splitRaw(std::string_view s) const {
  std::vector<std::string> words;
  std::string cur;
  bool inWord = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote == 0 && isSpace(c)) {
      if (inWord) words.push_back(std::move(cur)), cur.clear(), inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c == escape_ && quote != '\'' && i + 1 < s.size()) {
      cur += s[++i];
      continue;
    }
    if (quote == 0 && (c == '\'' || c == '"')) quote = c;
    else if (quote != 0 && c == quote) quote = 0;
  }
  if (quote != 0)
    return fail(ErrorCode::kInvalidArgument,
                std::string("unexpected end of statement while looking for matching ") +
                    (quote == '"' ? "double-quote" : "single-quote"));
  if (inWord) words.push_back(std::move(cur));
  return words;
}

}  // namespace berth::build

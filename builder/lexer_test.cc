#include "builder/lexer.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

const VarMap kVars = {{"A", "alpha"}, {"E", ""}, {"SP", "x y"}};

std::string word(std::string_view s, char esc = '\\') {
  auto r = Lexer(esc).processWord(s, kVars);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : "<error>";
}

TEST(Lexer, PlainAndBraces) {
  EXPECT_EQ(word("$A"), "alpha");
  EXPECT_EQ(word("${A}x"), "alphax");
  EXPECT_EQ(word("$Ax"), "");  // the name is Ax, unset
  EXPECT_EQ(word("pre-$A-post"), "pre-alpha-post");
  EXPECT_EQ(word("$"), "$");
  EXPECT_EQ(word("a$ b"), "a$ b");
}

TEST(Lexer, Modifiers) {
  EXPECT_EQ(word("${A:-d}"), "alpha");
  EXPECT_EQ(word("${U:-d}"), "d");
  EXPECT_EQ(word("${E:-d}"), "d");
  EXPECT_EQ(word("${E-d}"), "");
  EXPECT_EQ(word("${U-d}"), "d");
  EXPECT_EQ(word("${A:+alt}"), "alt");
  EXPECT_EQ(word("${E:+alt}"), "");
  EXPECT_EQ(word("${E+alt}"), "alt");
  EXPECT_EQ(word("${U:+alt}"), "");
  EXPECT_EQ(word("${U:-$A}"), "alpha");
  EXPECT_EQ(word("${U:-${A}-x}"), "alpha-x");
  auto r = Lexer().processWord("${U:?must be set}", kVars);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("U: must be set"), std::string::npos);
}

TEST(Lexer, QuotesAndEscapes) {
  EXPECT_EQ(word("'$A'"), "$A");
  EXPECT_EQ(word("\"$A\""), "alpha");
  EXPECT_EQ(word("\\$A"), "$A");
  EXPECT_EQ(word("\"a\\\"b\""), "a\"b");
  EXPECT_EQ(word("\"a\\nb\""), "a\\nb");  // other escapes stay inside double quotes
  EXPECT_EQ(word("a\\ b"), "a b");
  EXPECT_EQ(word("`$A", '`'), "$A");
  EXPECT_EQ(word("C:\\dir", '`'), "C:\\dir");
}

TEST(Lexer, Unterminated) {
  EXPECT_FALSE(Lexer().processWord("\"abc", kVars));
  EXPECT_FALSE(Lexer().processWord("'abc", kVars));
  EXPECT_FALSE(Lexer().processWord("${A", kVars));
  EXPECT_FALSE(Lexer().processWord("${A:-x", kVars));
  EXPECT_FALSE(Lexer().processWord("${A%x}", kVars));
}

TEST(Lexer, Words) {
  auto w = Lexer().processWords("a \"b c\" $SP 'd e'", kVars);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, (std::vector<std::string>{"a", "b c", "x", "y", "d e"}));
  auto q = Lexer().processWords("\"$SP\"", kVars);
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, (std::vector<std::string>{"x y"}));
}

TEST(Lexer, SplitRawKeepsQuotes) {
  auto w = Lexer().splitRaw("a=1 b=\"x y\" c='p q' d=e\\ f");
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, (std::vector<std::string>{"a=1", "b=\"x y\"", "c='p q'", "d=e\\ f"}));
  EXPECT_FALSE(Lexer().splitRaw("a=\"open"));
}

}  // namespace
}  // namespace berth::build

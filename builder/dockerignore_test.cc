#include "builder/dockerignore.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

TEST(Glob, Basics) {
  EXPECT_TRUE(globMatch("*.txt", "a.txt"));
  EXPECT_FALSE(globMatch("*.txt", "a.txt.bak"));
  EXPECT_TRUE(globMatch("a?c", "abc"));
  EXPECT_TRUE(globMatch("[a-c]x", "bx"));
  EXPECT_FALSE(globMatch("[^a-c]x", "bx"));
  EXPECT_TRUE(globMatch("\\*", "*"));
  EXPECT_FALSE(globMatch("\\*", "a"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYc"));
}

TEST(DockerIgnore, Rules) {
  auto m = IgnoreMatcher::parse(
      "# comment\n"
      "\n"
      "*.log\n"
      "/build\n"
      "**/*.tmp\n"
      "docs\n"
      "!docs/keep.md\n"
      "secret?.txt\n"
      "./node_modules/\n");
  EXPECT_TRUE(m.excluded("a.log"));
  EXPECT_FALSE(m.excluded("sub/a.log"));  // * does not cross '/'
  EXPECT_TRUE(m.excluded("build"));
  EXPECT_TRUE(m.excluded("build/x/y"));  // below an excluded directory
  EXPECT_TRUE(m.excluded("x.tmp"));      // ** matches zero directories
  EXPECT_TRUE(m.excluded("a/b/c/x.tmp"));
  EXPECT_TRUE(m.excluded("docs/other.md"));
  EXPECT_FALSE(m.excluded("docs/keep.md"));  // exception, last match wins
  EXPECT_TRUE(m.excluded("secret1.txt"));
  EXPECT_TRUE(m.excluded("node_modules/pkg/index.js"));
  EXPECT_FALSE(m.excluded("src/main.cc"));
  EXPECT_TRUE(m.hasExceptions());
}

TEST(DockerIgnore, LastMatchWins) {
  auto m = IgnoreMatcher::parse("!keep.txt\n*.txt\n");
  EXPECT_TRUE(m.excluded("keep.txt"));  // the later *.txt wins over the earlier exception
  auto all = IgnoreMatcher::parse("*\n!app.py\n");
  EXPECT_TRUE(all.excluded("Dockerfile"));
  EXPECT_FALSE(all.excluded("app.py"));
  auto dd = IgnoreMatcher::parse("**\n!src/**\n");
  EXPECT_FALSE(dd.excluded("src/a/b.c"));
  EXPECT_TRUE(dd.excluded("other/b.c"));
}

}  // namespace
}  // namespace berth::build

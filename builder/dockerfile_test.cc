#include "builder/dockerfile.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

Dockerfile parse(std::string_view text) {
  auto r = parseDockerfile(text);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : Dockerfile{};
}

std::string parseError(std::string_view text) {
  auto r = parseDockerfile(text);
  EXPECT_FALSE(r);
  return r ? "" : r.error().message();
}

TEST(Dockerfile, InstructionsCommentsAndContinuations) {
  auto df = parse(
      "# a comment\n"
      "from busybox AS Build\n"
      "\n"
      "RUN echo a \\\n"
      "  # comment inside\n"
      "    && echo b\n"
      "CMD [\"sh\", \"-c\", \"echo hi\"]\n"
      "ENTRYPOINT [not json\n");
  ASSERT_EQ(df.instructions.size(), 4u);
  EXPECT_EQ(df.instructions[0].keyword, "FROM");
  EXPECT_EQ(df.instructions[0].line, 2);
  EXPECT_EQ(df.instructions[0].args, "busybox AS Build");
  EXPECT_EQ(df.instructions[1].keyword, "RUN");
  EXPECT_EQ(df.instructions[1].line, 4);
  EXPECT_EQ(df.instructions[1].args, "echo a     && echo b");
  EXPECT_FALSE(df.instructions[1].jsonForm);
  EXPECT_TRUE(df.instructions[2].jsonForm);
  EXPECT_EQ(df.instructions[2].json, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(df.instructions[2].line, 7);
  EXPECT_FALSE(df.instructions[3].jsonForm);  // invalid JSON falls back to shell form
}

TEST(Dockerfile, Directives) {
  auto df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo a `\n b\n");
  EXPECT_EQ(df.escape, '`');
  EXPECT_EQ(df.syntax, "docker/dockerfile:1");
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[1].args, "echo a  b");
  // After a blank line or an instruction, "# escape=" is just a comment.
  auto late = parse("\n# escape=`\nFROM x\n");
  EXPECT_EQ(late.escape, '\\');
  EXPECT_NE(parseError("# escape=x\nFROM a\n").find("Dockerfile:1:"), std::string::npos);
}

TEST(Dockerfile, Flags) {
  auto df = parse("FROM a\nCOPY --from=build --chown=1:2 a b /c/\nRUN --network=host true\n");
  const auto& c = df.instructions[1];
  ASSERT_NE(c.flag("from"), nullptr);
  EXPECT_EQ(*c.flag("from"), "build");
  EXPECT_EQ(*c.flag("chown"), "1:2");
  EXPECT_EQ(c.flag("chmod"), nullptr);
  EXPECT_EQ(c.args, "a b /c/");
  EXPECT_EQ(parseError("FROM a\nCOPY --bogus=1 a b\n"), "Dockerfile:2: unknown flag: --bogus for COPY");
  EXPECT_NE(parseError("FROM a\nWORKDIR --from=x /a\n").find("unknown flag"), std::string::npos);
}

TEST(Dockerfile, Heredocs) {
  auto df = parse(
      "FROM a\n"
      "RUN <<EOF\n"
      "echo one\n"
      "echo two\n"
      "EOF\n"
      "COPY <<-'END' /etc/x.conf\n"
      "\tkey=$v\n"
      "\tEND\n"
      "RUN cat <<A <<B\n"
      "a\n"
      "A\n"
      "b\n"
      "B\n"
      "CMD x\n");
  ASSERT_EQ(df.instructions.size(), 5u);
  const auto& r = df.instructions[1];
  ASSERT_EQ(r.heredocs.size(), 1u);
  EXPECT_EQ(r.heredocs[0].name, "EOF");
  EXPECT_EQ(r.heredocs[0].content, "echo one\necho two\n");
  EXPECT_TRUE(r.heredocs[0].expand);
  const auto& c = df.instructions[2];
  ASSERT_EQ(c.heredocs.size(), 1u);
  EXPECT_EQ(c.heredocs[0].name, "END");
  EXPECT_FALSE(c.heredocs[0].expand);
  EXPECT_TRUE(c.heredocs[0].chomp);
  EXPECT_EQ(c.heredocs[0].content, "key=$v\n");
  EXPECT_EQ(df.instructions[3].heredocs.size(), 2u);
  EXPECT_EQ(df.instructions[3].heredocs[1].content, "b\n");
  EXPECT_EQ(df.instructions[4].line, 14);
  // "<<" inside quotes is not a heredoc.
  auto q = parse("FROM a\nRUN echo '<<EOF'\n");
  EXPECT_TRUE(q.instructions[1].heredocs.empty());
}

TEST(Dockerfile, Errors) {
  EXPECT_EQ(parseError("FROM a\nRUN <<EOF\necho\n"),
            "Dockerfile:2: unterminated heredoc <<EOF (no line with just EOF)");
  EXPECT_EQ(parseError("FROM a\n\nFROBNICATE x\n"), "Dockerfile:3: unknown instruction: FROBNICATE");
  EXPECT_EQ(parseError("FROM a\nWORKDIR\n"), "Dockerfile:2: WORKDIR requires at least one argument");
  EXPECT_FALSE(parseDockerfile("# only a comment\n\n"));
}

TEST(Dockerfile, CrlfAndCase) {
  auto df = parse("from a\r\nrun echo hi\r\n");
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[1].keyword, "RUN");
  EXPECT_EQ(df.instructions[1].args, "echo hi");
}

}  // namespace
}  // namespace berth::build

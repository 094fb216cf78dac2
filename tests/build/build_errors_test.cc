// Bad input stops the build with "Dockerfile:LINE: ...", a non-zero exit, and nothing left.
#include <unistd.h>

#include "build_test_util.h"

namespace berth::buildtest {
namespace {

struct BadCase {
  const char* name;
  const char* dockerfile;
  const char* expect;  ///< substring of the output
};
// CTest shows the parameter in the test's name; print the case name, not the bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const BadCase kCases[] = {
    {"unknown_instruction", "FROM busybox\nFROBNICATE x\n", "Dockerfile:2: unknown instruction: FROBNICATE"},
    {"missing_source", "FROM busybox\nRUN true\nCOPY nothere.txt /x\n", "Dockerfile:3: nothere.txt"},
    {"outside_context", "FROM busybox\nCOPY ../x /x\n", "Dockerfile:2: ../x is outside the build context"},
    {"symlink_out", "FROM busybox\nCOPY link /x\n", "Dockerfile:2: link: symlink to /etc/hostname points outside"},
    {"unterminated_heredoc", "FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc"},
    {"unterminated_quote", "FROM busybox\nENV A=\"open\n", "Dockerfile:2: unexpected end of statement"},
    {"run_fails", "FROM busybox\nWORKDIR /w\nRUN echo partial > /w/f && exit 3\n", "Dockerfile:3: RUN echo partial > /w/f && exit 3: process exited with code 3"},
    {"unknown_from", "FROM nosuch-image:1\nRUN true\n", "Dockerfile:1: FROM nosuch-image:1"},
    {"add_url", "FROM busybox\nADD https://example.com/x.tgz /x\n", "Dockerfile:2: ADD https://example.com/x.tgz: URL sources need network"},
    {"multi_src_no_slash", "FROM busybox\nCOPY a b /dest\n", "Dockerfile:2: when using COPY with more than one source"},
};

class BadInput : public BuildTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadInput, FailsCleanly) {
  const auto& c = GetParam();
  std::string ctx = context({{"Dockerfile", c.dockerfile}, {"a", "a"}, {"b", "b"}});
  ASSERT_EQ(::symlink("/etc/hostname", (ctx + "/link").c_str()), 0);
  size_t before = imageCount();
  auto r = berth("build -t bad " + ctx);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(c.expect), std::string::npos) << r.output;
  EXPECT_EQ(imageCount(), before) << "a half-made image was left";
  EXPECT_FALSE(resolve("bad").has_value());
  expectNothingLeftBehind();
}

INSTANTIATE_TEST_SUITE_P(Build, BadInput, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(BuildTest, QuietFailureShowsStepOutput) {
  std::string ctx = context({{"Dockerfile", "FROM busybox\nRUN echo diagnostic-line && false\n"}});
  auto r = berth("build -q " + ctx);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("diagnostic-line"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Dockerfile:2:"), std::string::npos) << r.output;
}

TEST_F(BuildTest, MissingContextOrDockerfile) {
  auto r = berth("build /nonexistent-berth-ctx");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("not a directory"), std::string::npos) << r.output;
  std::string ctx = context({{"other", "x"}});
  auto d = berth("build " + ctx);
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.output.find("Dockerfile"), std::string::npos) << d.output;
}

}  // namespace
}  // namespace berth::buildtest

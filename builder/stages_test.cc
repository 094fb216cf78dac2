#include "builder/stages.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

Result<BuildPlan> plan(const Dockerfile& df, VarMap args = {}, std::string target = "") {
  return planBuild(df, args, target);
}

TEST(Stages, MultiStageTargetAndDeps) {
  auto df = parseDockerfile(
      "ARG BASE=busybox\n"
      "ARG TAG\n"
      "FROM ${BASE}:${TAG:-latest} AS build\n"
      "RUN make\n"
      "FROM scratch AS unused\n"
      "COPY x /x\n"
      "FROM build AS test\n"
      "RUN make test\n"
      "FROM alpine\n"
      "COPY --from=build /out /out\n"
      "COPY --from=other:img /y /y\n");
  ASSERT_TRUE(df) << df.error().message();
  auto p = plan(*df);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->stages.size(), 4u);
  EXPECT_EQ(p->stages[0].base, "busybox:latest");
  EXPECT_EQ(p->stages[2].baseStage, 0);
  EXPECT_EQ(p->order, (std::vector<int>{0, 3}));  // "unused" and "test" are skipped
  auto t = plan(*df, {{"TAG", "1.36"}, {"NOPE", "1"}}, "test");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->stages[0].base, "busybox:1.36");
  EXPECT_EQ(t->order, (std::vector<int>{0, 2}));
  EXPECT_EQ(t->unusedBuildArgs, (std::vector<std::string>{"NOPE"}));
  auto bad = plan(*df, {}, "nosuch");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("nosuch"), std::string::npos);
}

TEST(Stages, Errors) {
  auto noFrom = parseDockerfile("RUN x\n");
  ASSERT_TRUE(noFrom);
  auto e = plan(*noFrom);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message().rfind("Dockerfile:1:", 0), 0u);
  auto dup = parseDockerfile("FROM a AS x\nFROM b AS X\n");
  ASSERT_TRUE(dup);
  EXPECT_EQ(plan(*dup).error().message(), "Dockerfile:2: duplicate stage name \"x\"");
  auto self = parseDockerfile("FROM a AS x\nCOPY --from=x /a /b\n");
  ASSERT_TRUE(self);
  EXPECT_FALSE(plan(*self));
  auto plat = parseDockerfile("FROM --platform=linux/s390x a\n");
  ASSERT_TRUE(plat);
  EXPECT_FALSE(plan(*plat));
  auto three = parseDockerfile("FROM a b\n");
  ASSERT_TRUE(three);
  EXPECT_FALSE(plan(*three));
}

}  // namespace
}  // namespace berth::build

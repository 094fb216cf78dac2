#include "mesh/trace.h"

#include <gtest/gtest.h>

namespace berth::mesh {
namespace {

TEST(Trace, ContinuesAValidTraceWithANewSpan) {
  Rng rng(1);
  auto t = continueTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", rng);
  EXPECT_EQ(t.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t.parentId, "00f067aa0ba902b7");
  EXPECT_EQ(t.spanId.size(), 16u);
  EXPECT_NE(t.spanId, t.parentId);
  EXPECT_EQ(t.flags, 1);
  EXPECT_EQ(t.header(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + t.spanId + "-01");
}

TEST(Trace, StartsATraceWhenMissingOrInvalid) {
  Rng rng(2);
  for (auto bad : {"", "garbage",
                   "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace
                   "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span
                   "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
                   "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // bad version
                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}) {
    auto t = continueTrace(bad, rng);
    EXPECT_EQ(t.traceId.size(), 32u) << bad;
    EXPECT_TRUE(t.parentId.empty()) << bad;
    EXPECT_TRUE(parseTraceparent(t.header())) << t.header();
  }
}

TEST(Trace, FutureVersionParsedByItsPrefix) {
  auto p = parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->flags, 0);
}

}  // namespace
}  // namespace berth::mesh

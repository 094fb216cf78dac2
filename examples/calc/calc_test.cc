#include "calc.h"

#include <gtest/gtest.h>

namespace calc {
namespace {

using berth::sdk::HttpError;
using berth::sdk::Json;
using berth::sdk::parseJson;

std::string run(Op op, const char* body) { return compute(op, parseJson(body)); }

std::string error(Op op, const char* body) {
  try {
    compute(op, parseJson(body));
  } catch (const HttpError& e) {
    return std::to_string(e.status()) + " " + e.detail();
  }
  return "no error";
}

TEST(CalcTest, IntegersStayExact) {
  EXPECT_EQ(run(Op::kAdd, R"({"a": 1, "b": 2})"), "3");
  EXPECT_EQ(run(Op::kSub, R"({"a": 1, "b": 2})"), "-1");
  EXPECT_EQ(run(Op::kMul, R"({"a": 4000000000, "b": 2000000000})"), "8000000000000000000");
  EXPECT_EQ(run(Op::kDiv, R"({"a": 9, "b": 3})"), "3");
  EXPECT_EQ(run(Op::kDiv, R"({"a": 1, "b": 2})"), "0.5");
  EXPECT_EQ(run(Op::kAdd, R"({"a": 9007199254740993, "b": 0})"), "9007199254740993");
  EXPECT_EQ(run(Op::kAdd, R"({"a": -9223372036854775808, "b": 0})"), "-9223372036854775808");
}

TEST(CalcTest, Floats) {
  EXPECT_EQ(run(Op::kAdd, R"({"a": 0.5, "b": 0.25})"), "0.75");
  EXPECT_EQ(run(Op::kMul, R"({"a": 1.5, "b": 2})"), "3.0");
  EXPECT_EQ(run(Op::kDiv, R"({"a": 1, "b": 4.0})"), "0.25");
}

TEST(CalcTest, Errors) {
  EXPECT_EQ(error(Op::kAdd, R"({"a": 9223372036854775807, "b": 1})"),
            "422 integer overflow: a + b does not fit in a 64-bit integer");
  EXPECT_EQ(error(Op::kMul, R"({"a": 1e300, "b": 1e300})"), "422 overflow: the result is not a finite number");
  EXPECT_EQ(error(Op::kDiv, R"({"a": 1, "b": 0})"), "422 division by zero");
  EXPECT_EQ(error(Op::kDiv, R"({"a": 1.5, "b": 0.0})"), "422 division by zero");
  EXPECT_EQ(error(Op::kDiv, R"({"a": -9223372036854775808, "b": -1})"),
            "422 integer overflow: a / b does not fit in a 64-bit integer");
  EXPECT_EQ(error(Op::kAdd, R"({"a": "1", "b": 2})"), "422 field 'a' must be a number, got string");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 1, "b": null})"), "422 field 'b' must be a number, got null");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 1})"), "422 missing field 'b'");
  EXPECT_EQ(error(Op::kAdd, R"({"a": true, "b": 1})"), "422 field 'a' must be a number, got boolean");
  EXPECT_EQ(error(Op::kAdd, R"([1, 2])").substr(0, 3), "422");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 18446744073709551615, "b": 1})"),
            "422 field 'a' is out of range for a 64-bit integer");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 123456789012345678901234567890, "b": 1})").substr(0, 3), "422");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 1e999, "b": 1})").substr(0, 3), "422");
  EXPECT_EQ(error(Op::kAdd, R"({"a": 1, "b": 2)").substr(0, 3), "400");
}

}  // namespace
}  // namespace calc

#include "calc.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <variant>

namespace calc {

namespace {

using berth::sdk::Json;
using berth::sdk::unprocessable;
using Number = std::variant<int64_t, double>;

Number field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end()) throw unprocessable(std::string("missing field '") + name + "'");
  const Json& v = *it;
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw unprocessable(std::string("field '") + name + "' is out of range for a 64-bit integer");
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return v.get<double>();
  throw unprocessable(std::string("field '") + name + "' must be a number, got " + v.type_name());
}

std::string intText(int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string floatText(double v) {
  if (!std::isfinite(v)) throw unprocessable("overflow: the result is not a finite number");
  return Json(v).dump();
}

const char* symbol(Op op) {
  switch (op) {
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
  }
  return "?";
}

}  // namespace

std::string compute(Op op, const Json& body) {
  if (!body.is_object()) throw unprocessable("the body must be a JSON object {\"a\": NUMBER, \"b\": NUMBER}");
  Number a = field(body, "a");
  Number b = field(body, "b");
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b)) {
    int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b), r = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd: overflow = __builtin_add_overflow(x, y, &r); break;
      case Op::kSub: overflow = __builtin_sub_overflow(x, y, &r); break;
      case Op::kMul: overflow = __builtin_mul_overflow(x, y, &r); break;
      case Op::kDiv:
        if (y == 0) throw unprocessable("division by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) {
          overflow = true;
          break;
        }
        if (x % y != 0) return floatText(static_cast<double>(x) / static_cast<double>(y));
        r = x / y;
        break;
    }
    if (overflow) {
      throw unprocessable(std::string("integer overflow: a ") + symbol(op) +
                          " b does not fit in a 64-bit integer");
    }
    return intText(r);
  }
  auto asDouble = [](const Number& n) {
    return std::holds_alternative<int64_t>(n) ? static_cast<double>(std::get<int64_t>(n))
                                              : std::get<double>(n);
  };
  double x = asDouble(a), y = asDouble(b);
  switch (op) {
    case Op::kAdd: return floatText(x + y);
    case Op::kSub: return floatText(x - y);
    case Op::kMul: return floatText(x * y);
    case Op::kDiv:
      if (y == 0) throw unprocessable("division by zero");
      return floatText(x / y);
  }
  return floatText(std::nan(""));
}

}  // namespace calc

#pragma once
/// The arithmetic of the calc example, apart from HTTP so it can be unit-tested.
/// Integers stay exact (int64, overflow is an error); any float operand makes the operation
/// a double one (a non-finite result is an error); x/0 is an error; an integer division
/// that is not exact gives a double.

#include <string>

#include "sdk/json.h"

namespace calc {

enum class Op { kAdd, kSub, kMul, kDiv };

/// {"a": NUMBER, "b": NUMBER} -> the result as JSON text ("3", "0.5").
/// Throws berth::sdk::HttpError 422 with a message naming the field or the problem.
std::string compute(Op op, const berth::sdk::Json& body);

}  // namespace calc

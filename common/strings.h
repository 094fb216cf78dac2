#pragma once
/// Small string helpers shared by every layer.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::str {

std::vector<std::string> split(std::string_view s, char sep);
/// Split at the first `sep`: ("a=b=c", '=') -> {"a", "b=c"}; no sep -> {s, nullopt}.
std::pair<std::string, std::optional<std::string>> splitOnce(std::string_view s, char sep);
std::string_view trim(std::string_view s);
bool startsWith(std::string_view s, std::string_view p);
bool endsWith(std::string_view s, std::string_view p);
std::string toLower(std::string_view s);
/// Parse a whole decimal unsigned integer; nullopt on junk, sign or overflow.
std::optional<uint64_t> parseU64(std::string_view s);
std::optional<int64_t> parseI64(std::string_view s);
/// "512m", "1g", "100k", "1024", "1.5g" -> bytes (docker's units, 1024-based). nullopt on junk.
std::optional<int64_t> parseBytes(std::string_view s);
/// Random lowercase hex id of `bytes*2` chars from getrandom(2).
std::string randomHex(size_t bytes);

}  // namespace berth::str

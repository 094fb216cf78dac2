#pragma once
/// Minimal structured logging to stderr or a file, text or JSON lines. Lean on purpose: the
/// runtime links it and must start fast. Thread-safe (one write(2) per line).

#include <string>
#include <string_view>

namespace berth::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
enum class Format { kText, kJson };

/// Configure once at startup. `path` empty means stderr. Returns false if the file can't open.
bool init(Level level, Format format = Format::kText, const std::string& path = {});
void setLevel(Level level);
bool enabled(Level level);
void write(Level level, std::string_view msg);

inline void debug(std::string_view m) { if (enabled(Level::kDebug)) write(Level::kDebug, m); }
inline void info(std::string_view m) { if (enabled(Level::kInfo)) write(Level::kInfo, m); }
inline void warn(std::string_view m) { if (enabled(Level::kWarn)) write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

/// JSON string escaping (used by the JSON format; handy elsewhere).
std::string jsonEscape(std::string_view s);

}  // namespace berth::log

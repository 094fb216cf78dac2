#include "sdk/config.h"

#include <cstdlib>
#include <functional>
#include <string_view>
#include <vector>

#include "common/strings.h"

namespace berth::sdk {

namespace {

struct Setting {
  const char* env;
  const char* flag;
  std::function<Result<void>(Config&, std::string_view)> apply;
};

Result<int64_t> number(std::string_view v, int64_t min, int64_t max) {
  auto n = str::parseI64(v);
  if (!n || *n < min || *n > max) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + std::string(v) + "' is not a number in " + std::to_string(min) + ".." +
                    std::to_string(max));
  }
  return *n;
}

Result<int64_t> bytes(std::string_view v) {
  auto n = str::parseBytes(v);
  if (!n || *n <= 0) return fail(ErrorCode::kInvalidArgument, "'" + std::string(v) + "' is not a byte size");
  return *n;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"PORT", "--port", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(int64_t n, number(v, 0, 65535));
         c.port = static_cast<uint16_t>(n);
         return {};
       }},
      {"HOST", "--host", [](Config& c, std::string_view v) -> Result<void> {
         if (v.empty()) return fail(ErrorCode::kInvalidArgument, "empty address");
         c.host = std::string(v);
         return {};
       }},
      {"WORKERS", "--workers", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(int64_t n, number(v, 1, 256));
         c.workers = static_cast<int>(n);
         return {};
       }},
      {"MAX_BODY_BYTES", "--max-body-bytes", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(int64_t n, bytes(v));
         c.maxBodyBytes = static_cast<uint64_t>(n);
         return {};
       }},
      {"MAX_HEADER_BYTES", "--max-header-bytes", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(int64_t n, bytes(v));
         c.maxHeaderBytes = static_cast<size_t>(n);
         return {};
       }},
      {"MAX_HEADERS", "--max-headers", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(int64_t n, number(v, 1, 10000));
         c.maxHeaders = static_cast<size_t>(n);
         return {};
       }},
      {"IDLE_TIMEOUT_MS", "--idle-timeout-ms", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(c.idleTimeoutMs, number(v, 1, 86400000));
         return {};
       }},
      {"HEADER_TIMEOUT_MS", "--header-timeout-ms", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(c.headerTimeoutMs, number(v, 1, 86400000));
         return {};
       }},
      {"BODY_TIMEOUT_MS", "--body-timeout-ms", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(c.bodyTimeoutMs, number(v, 1, 86400000));
         return {};
       }},
      {"DRAIN_TIMEOUT_MS", "--drain-timeout-ms", [](Config& c, std::string_view v) -> Result<void> {
         BERTH_ASSIGN(c.drainTimeoutMs, number(v, 0, 86400000));
         return {};
       }},
      {"ACCESS_LOG", "--access-log", [](Config& c, std::string_view v) -> Result<void> {
         if (v == "1" || v == "true") c.accessLog = true;
         else if (v == "0" || v == "false") c.accessLog = false;
         else return fail(ErrorCode::kInvalidArgument, "'" + std::string(v) + "' is not 0 or 1");
         return {};
       }},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "--otlp-endpoint",
       [](Config& c, std::string_view v) -> Result<void> {
         if (!v.empty() && !str::startsWith(v, "http://"))
           return fail(ErrorCode::kInvalidArgument, "'" + std::string(v) + "' is not an http:// URL");
         c.otlpEndpoint = std::string(v);
         return {};
       }},
      {"OTEL_SERVICE_NAME", "--service-name", [](Config& c, std::string_view v) -> Result<void> {
         if (!v.empty()) c.serviceName = std::string(v);
         return {};
       }},
  };
  return kSettings;
}

}  // namespace

Result<void> Config::applyEnv() {
  for (const Setting& s : settings()) {
    const char* v = std::getenv(s.env);
    if (!v) continue;
    auto r = s.apply(*this, v);
    if (!r) return fail(std::move(r).error().context(std::string("environment variable ") + s.env));
  }
  return {};
}

Result<void> Config::applyArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      help = true;
      continue;
    }
    if (a == "--no-access-log") {
      accessLog = false;
      continue;
    }
    std::string_view name = a, value;
    bool inlineValue = false;
    if (size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inlineValue = true;
    }
    const Setting* found = nullptr;
    for (const Setting& s : settings()) {
      if (name == s.flag) found = &s;
    }
    if (!found) return fail(ErrorCode::kInvalidArgument, "unknown flag '" + std::string(name) + "' (see --help)");
    if (!inlineValue) {
      if (i + 1 >= argc) return fail(ErrorCode::kInvalidArgument, "flag " + std::string(name) + " needs a value");
      value = argv[++i];
    }
    auto r = found->apply(*this, value);
    if (!r) return fail(std::move(r).error().context("flag " + std::string(name)));
  }
  return {};
}

http::ServerOptions Config::serverOptions() const {
  http::ServerOptions o;
  o.host = host;
  o.port = port;
  o.workers = workers;
  o.limits.maxBodyBytes = maxBodyBytes;
  o.limits.maxHeadBytes = maxHeaderBytes;
  o.limits.maxHeaders = maxHeaders;
  o.idleTimeout = http::Millis(idleTimeoutMs);
  o.headerTimeout = http::Millis(headerTimeoutMs);
  o.bodyTimeout = http::Millis(bodyTimeoutMs);
  o.drainTimeout = http::Millis(drainTimeoutMs);
  return o;
}

std::string Config::usage(const std::string& program) {
  std::string out = "Usage: " + program + " [flags]\n\nFlags (each also read from an environment variable):\n";
  for (const Setting& s : settings()) {
    out += "  ";
    out += s.flag;
    out += std::string(22 - std::string_view(s.flag).size(), ' ');
    out += s.env;
    out += '\n';
  }
  out += "  --no-access-log       ACCESS_LOG=0\n";
  return out;
}

}  // namespace berth::sdk

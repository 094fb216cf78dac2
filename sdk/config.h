#pragma once
/// Service configuration from the environment, then command-line flags (flags win).
///
/// | env                          | flag                  | default   |
/// |------------------------------|-----------------------|-----------|
/// | PORT                         | --port N              | 80        |
/// | HOST                         | --host ADDR           | 0.0.0.0   |
/// | WORKERS                      | --workers N           | 1         |
/// | MAX_BODY_BYTES               | --max-body-bytes N    | 1048576   |
/// | MAX_HEADER_BYTES             | --max-header-bytes N  | 16384     |
/// | MAX_HEADERS                  | --max-headers N       | 100       |
/// | IDLE_TIMEOUT_MS              | --idle-timeout-ms N   | 60000     |
/// | HEADER_TIMEOUT_MS            | --header-timeout-ms N | 10000     |
/// | BODY_TIMEOUT_MS              | --body-timeout-ms N   | 30000     |
/// | DRAIN_TIMEOUT_MS             | --drain-timeout-ms N  | 10000     |
/// | ACCESS_LOG (0/1)             | --access-log 0/1      | 1         |
/// | OTEL_EXPORTER_OTLP_ENDPOINT  | --otlp-endpoint URL   | (off)     |
/// | OTEL_SERVICE_NAME            | --service-name NAME   | the name given to Service |
/// Byte sizes accept docker's units ("1m", "64k").

#include <cstdint>
#include <string>

#include "common/error.h"
#include "http/server.h"

namespace berth::sdk {

struct Config {
  std::string host = "0.0.0.0";
  uint16_t port = 80;
  int workers = 1;
  uint64_t maxBodyBytes = 1 << 20;
  size_t maxHeaderBytes = 16 * 1024;
  size_t maxHeaders = 100;
  int64_t idleTimeoutMs = 60000, headerTimeoutMs = 10000, bodyTimeoutMs = 30000;
  int64_t drainTimeoutMs = 10000;
  bool accessLog = true;
  std::string otlpEndpoint;
  std::string serviceName;
  bool help = false;  ///< --help was given

  /// Read the variables above from the environment. Errors name the variable and value.
  Result<void> applyEnv();
  /// Apply flags ("--port 8080" or "--port=8080"). Errors name the flag.
  Result<void> applyArgs(int argc, char** argv);
  /// The HTTP server options these settings mean.
  http::ServerOptions serverOptions() const;
  /// Usage text for --help.
  static std::string usage(const std::string& program);
};

}  // namespace berth::sdk

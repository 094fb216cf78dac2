#pragma once
/// W3C Trace Context (traceparent) for the proxy: continue the caller's trace with a new span
/// id for the proxy's hop, or start a trace when the request has none or a malformed one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/clock.h"

namespace berth::mesh {

struct TraceContext {
  std::string traceId;   ///< 32 lower-case hex, not all zero
  std::string parentId;  ///< the caller's span id (16 hex), empty when we started the trace
  std::string spanId;    ///< this hop's span id (16 hex)
  uint8_t flags = 0;     ///< bit 0: sampled
  /// "00-<traceId>-<spanId>-<flags>": the header value to send upstream.
  std::string header() const;
};

/// Parse a traceparent header (version 00 rules; higher versions parsed by their first four
/// fields as the spec asks). nullopt when invalid.
struct ParsedTraceparent {
  std::string traceId, spanId;
  uint8_t flags = 0;
};
std::optional<ParsedTraceparent> parseTraceparent(std::string_view v);

/// Continue `incoming` (may be empty/invalid) with a fresh span id from `rng`.
TraceContext continueTrace(std::string_view incoming, Rng& rng);

}  // namespace berth::mesh

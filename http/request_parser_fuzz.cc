// libFuzzer target for the strict HTTP/1.1 parser (http/parser.h): request heads, whole
// requests, chunked bodies fed in pieces, and response heads. Besides "no crash, no UB under
// ASan/UBSan", it checks invariants: consumed never exceeds the input, a complete parse is
// stable when re-run on exactly the consumed bytes, and chunked decoding gives the same body
// whether the input arrives at once or split in two.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"

using namespace berth::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.maxHeadBytes = 4096;
  limits.maxHeaders = 32;
  limits.maxTargetBytes = 1024;
  limits.maxBodyBytes = 1 << 16;

  Request req;
  ParseResult r = parseRequest(in, limits, req);
  if (r.consumed > size) std::abort();
  if (r.complete()) {
    Request again;
    ParseResult r2 = parseRequest(in.substr(0, r.consumed), limits, again);
    if (!r2.complete() || r2.consumed != r.consumed || again.body != req.body ||
        again.method != req.method || again.target != req.target) {
      std::abort();
    }
    if (req.chunked && req.contentLength) std::abort();  // smuggling must never parse
  }
  if (r.failed() && (r.errorStatus < 400 || r.errorStatus > 505)) std::abort();

  // Chunked decoding: whole vs split at a data-dependent point.
  ChunkedDecoder whole(limits.maxBodyBytes, limits.maxHeadBytes);
  std::string a;
  ParseResult wr = whole.decode(in, a);
  ChunkedDecoder split(limits.maxBodyBytes, limits.maxHeadBytes);
  std::string b;
  size_t cut = size ? data[0] % (size + 1) : 0;
  ParseResult s1 = split.decode(in.substr(0, cut), b);
  ParseResult s2 = s1;
  if (s1.incomplete()) s2 = split.decode(in.substr(cut), b);
  if (wr.complete() != (s1.complete() || s2.complete())) std::abort();
  if (wr.complete() && a != b) std::abort();
  if (wr.failed() != (s1.failed() || s2.failed())) std::abort();

  Response resp;
  ParseResult rr = parseResponseHead(in, limits, resp);
  if (rr.complete()) {
    BodyFraming f;
    responseFraming(resp, "GET", limits, f);
  }
  return 0;
}

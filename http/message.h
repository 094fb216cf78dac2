#pragma once
/// HTTP/1.1 message types shared by the server, the client, the parser and the SDK/mesh.
/// No Boost here: include this (and parser.h) without pulling in Asio.
///
/// The types are built for reuse: `clear()` keeps the capacity of every string and header slot,
/// so a connection that parses request after request into one `Request` does not allocate in
/// the steady state.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::http {

/// One header field as received (name keeps its case; compare with iequals).
struct Header {
  std::string name;
  std::string value;
};

/// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

/// An ordered list of header fields. Lookups are case-insensitive and linear (header counts
/// are small and bounded by Limits::maxHeaders).
class Headers {
 public:
  using const_iterator = std::vector<Header>::const_iterator;

  /// First field named `name`, or nullptr.
  const Header* find(std::string_view name) const;
  /// Value of the first field named `name`, or `def`.
  std::string_view get(std::string_view name, std::string_view def = {}) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  /// Number of fields named `name`.
  size_t count(std::string_view name) const;
  /// Append a field (duplicates allowed, e.g. Set-Cookie).
  void add(std::string_view name, std::string_view value);
  /// Replace every field named `name` by one field with `value`.
  void set(std::string_view name, std::string_view value);
  /// Remove every field named `name`; returns how many were removed.
  size_t remove(std::string_view name);
  /// Remove every field for which `pred(const Header&)` is true (order kept); returns how many.
  template <typename Pred>
  size_t removeIf(Pred pred) {
    size_t out = 0;
    for (size_t i = 0; i < size_; ++i) {
      if (pred(static_cast<const Header&>(items_[i]))) continue;
      if (out != i) std::swap(items_[out], items_[i]);
      ++out;
    }
    size_t removed = size_ - out;
    size_ = out;
    return removed;
  }
  /// Room for `n` fields without growing the list again.
  void reserve(size_t n) {
    if (items_.size() < n) items_.reserve(n);
  }
  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.begin() + static_cast<std::ptrdiff_t>(size_); }
  const Header& operator[](size_t i) const { return items_[i]; }

 private:
  std::vector<Header> items_;  // slots [0, size_) are live; the rest keep their capacity
  size_t size_ = 0;
};

/// A request as the server hands it to a handler, or as a client sends it.
class BodySource;  // http/body_source.h

struct Request {
  std::string method = "GET";  ///< token, case-sensitive ("GET", "POST", ...)
  std::string target = "/";    ///< request-target as sent (origin-form "/a?b=c" usually)
  int versionMinor = 1;        ///< HTTP/1.<versionMinor>: 0 or 1
  Headers headers;
  std::string body;  ///< full body (empty for a streaming handler; read it with BodyReader)
  /// The body as it arrives, instead of `body`: server side, for an AsyncHandler when the body
  /// is longer than ServerOptions::streamRequestBodiesAbove or chunked (it may be handed on past
  /// the handler, but what is left of it once the handler returns is not read: further reads
  /// fail); client side, sent piece by piece (Content-Length when the source knows its length,
  /// else chunked; a request with a source is never re-sent).
  std::shared_ptr<BodySource> bodySource;
  Headers trailers;  ///< HTTP/2 trailers (HTTP/1.1 chunked trailers are not kept)

  // Framing and connection facts filled in by the parser (the server and client compute them
  // again when sending; they are informative on an outgoing request).
  std::optional<uint64_t> contentLength;  ///< from Content-Length
  bool chunked = false;                   ///< Transfer-Encoding: chunked
  bool keepAlive = true;                  ///< the connection may carry another request
  bool expectContinue = false;            ///< Expect: 100-continue
  std::string remoteAddr;                 ///< "ip:port" of the peer (server side)

  /// Path part of the target (before '?'), e.g. "/add".
  std::string_view path() const;
  /// Query part of the target (after '?', without it); empty if none.
  std::string_view query() const;
  /// Reset for reuse, keeping capacity.
  void clear();
};

/// A response as a handler returns it, or as the client received it.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  /// When set, the body comes from here piece by piece and `body` is not sent: an HTTP/1.1
  /// server writes the head (Content-Length when the source knows its length, else chunked)
  /// and then each piece as it arrives; the HTTP/2 server reads it whole first. Set by
  /// Client::send for responses its StreamIf chose to stream.
  std::shared_ptr<BodySource> bodySource;
  Headers trailers;      ///< HTTP/2 only (e.g. grpc-status); an HTTP/1.1 server drops them
  int versionMinor = 1;  ///< client side: the version the server answered with
  bool keepAlive = true; ///< client side: the server keeps the connection open

  Response() = default;
  Response(int s, std::string b, std::string_view contentType = "text/plain; charset=utf-8");
  /// A JSON response with the given already-serialized body.
  static Response json(int status, std::string body);
  void clear();
};

/// Reason phrase for a status code ("OK", "Not Found"); "Unknown" for unlisted codes.
std::string_view reasonPhrase(int status);

/// Cached IMF-fixdate for the current second ("Thu, 26 Nov 2026 10:00:00 GMT"), per thread.
std::string_view httpDate();

}  // namespace berth::http

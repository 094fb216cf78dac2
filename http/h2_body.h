#pragma once
/// Internal to berth_http2: an HTTP/2 stream's body as it arrives, handed to whoever reads it
/// as a BodySource (a server's streamed request body, a client's streamed response body).
/// The connection that owns the stream feeds it (wake/end/fail) from its event loop; next()
/// takes the data through the owner, which gives the flow-control credit back to the peer
/// as it is taken. Dropping the source early tells the owner (release), which resets the
/// stream where that is the right answer (a client no longer wanting a response). One
/// executor (the connection's) for all of it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/body_source.h"
#include "http/h2_session.h"

namespace berth::http::h2detail {

class StreamBody : public BodySource {
 public:
  struct Owner {
    virtual ~Owner() = default;
    /// The data received on the stream and not yet taken (gives back its window).
    virtual std::string take(uint32_t id) = 0;
    /// The body is dropped; `ended`: the stream had ended (else the reader gave up on it).
    virtual void release(uint32_t id, bool ended) = 0;
  };

  StreamBody(std::shared_ptr<Owner> owner, uint32_t id, boost::asio::any_io_executor ex,
             std::optional<uint64_t> length, std::chrono::milliseconds idleTimeout);
  ~StreamBody() override;
  StreamBody(const StreamBody&) = delete;
  StreamBody& operator=(const StreamBody&) = delete;

  /// Data may be waiting (kData).
  void wake();
  /// The stream ended: `rest` is body the owner held back, `trailers` what came after it.
  void end(std::string rest, Headers trailers);
  /// The stream failed (reset, connection lost).
  void fail(Error e);

  boost::asio::awaitable<Result<std::string_view>> next() override;
  std::optional<uint64_t> length() const override { return length_; }
  const Headers* trailers() const override { return done_ ? &trailers_ : nullptr; }
  void cancel() override { fail(Error(ECANCELED, "the reader went away")); }

 private:
  std::shared_ptr<Owner> owner_;
  uint32_t id_;
  boost::asio::steady_timer timer_;
  std::optional<uint64_t> length_;
  std::chrono::milliseconds idle_;
  std::string piece_;
  std::string rest_;
  Headers trailers_;
  std::optional<Error> error_;
  bool ended_ = false;  // the stream ended (rest_ may still be unread)
  bool done_ = false;   // next() returned the end
  bool released_ = false;
};

/// The streamed bodies a connection feeds, by stream id. An entry may be null: its reader
/// dropped it before its stream ended (the server keeps the id so that the end of that
/// request is not taken for a new one).
class StreamBodies {
 public:
  void add(uint32_t id, StreamBody* b) { map_[id] = b; }
  /// An event of a fed stream: kData wakes its reader, kMessage ends it (the rest of the
  /// body, the trailers), kReset fails it. False if `e` is about no fed stream.
  bool route(h2::Session& session, const h2::Event& e);
  /// The reader dropped it: forget it, or (keep) remember the id until its stream ends.
  void drop(uint32_t id, bool keep);
  /// Remove `id`; its body, if it is fed still (else null).
  StreamBody* take(uint32_t id);
  void failAll(const Error& e);

 private:
  std::unordered_map<uint32_t, StreamBody*> map_;
};

/// Whether events after position `i` end stream `id` (its body is all here already).
bool endsInBatch(const std::vector<h2::Event>& events, size_t i, uint32_t id);

/// A connection's side of sending a body as its source yields it.
class BodySender {
 public:
  virtual ~BodySender() = default;
  /// Send `src` on stream `id` (submitted with `more`), as the peer's window and the socket
  /// allow: the source is not read while more than 256 KiB of the stream waits. Ends the
  /// stream with the source's trailers, else `trailers`. The source's error is returned
  /// (the caller resets the stream); a stream that went away ends it quietly.
  boost::asio::awaitable<Result<void>> sendBody(uint32_t id, BodySource& src,
                                                std::vector<h2::HeaderField> trailers);

 protected:
  virtual h2::Session& session() = 0;
  virtual void kick() = 0;              ///< start writing session output
  virtual bool gone() const = 0;        ///< the connection is closed
  virtual size_t inFlight() const = 0;  ///< bytes being written to the socket now
  virtual boost::asio::any_io_executor executor() = 0;
  /// After each read (window updates) and write: senders waiting re-check.
  void wakeSenders() {
    for (auto* t : waiting_) t->cancel();
  }

 private:
  bool congested(uint32_t id);
  std::vector<boost::asio::steady_timer*> waiting_;
};

}  // namespace berth::http::h2detail

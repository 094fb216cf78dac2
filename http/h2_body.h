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

#include "http/body_source.h"

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
  bool outlivesHandler() const override { return true; }
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

}  // namespace berth::http::h2detail

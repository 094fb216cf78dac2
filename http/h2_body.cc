#include "http/h2_body.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth::http::h2detail {

namespace asio = boost::asio;

StreamBody::StreamBody(std::shared_ptr<Owner> owner, uint32_t id, asio::any_io_executor ex,
                       std::optional<uint64_t> length, std::chrono::milliseconds idleTimeout)
    : owner_(std::move(owner)),
      id_(id),
      timer_(std::move(ex)),
      length_(length),
      idle_(idleTimeout) {}

StreamBody::~StreamBody() {
  if (!released_) owner_->release(id_, ended_);
}

void StreamBody::wake() { timer_.cancel(); }

void StreamBody::end(std::string rest, Headers trailers) {
  ended_ = true;
  rest_ = std::move(rest);
  trailers_ = std::move(trailers);
  timer_.cancel();
}

void StreamBody::fail(Error e) {
  if (!ended_ && !error_) error_ = std::move(e);
  timer_.cancel();
}

asio::awaitable<Result<std::string_view>> StreamBody::next() {
  for (;;) {
    if (error_) co_return tl::unexpected(*error_);
    if (!ended_) {
      piece_ = owner_->take(id_);
      if (!piece_.empty()) co_return std::string_view(piece_);
    } else {
      if (!rest_.empty()) {
        piece_ = std::move(rest_);
        rest_.clear();
        co_return std::string_view(piece_);
      }
      if (!done_) {
        done_ = true;
        released_ = true;
        owner_->release(id_, true);
      }
      co_return std::string_view();
    }
    timer_.expires_after(idle_);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec && !ended_ && !error_) {
      error_ = Error(static_cast<int>(ErrorCode::kTimeout),
                     "HTTP/2 stream idle for " + std::to_string(idle_.count()) + " ms");
    }
  }
}

}  // namespace berth::http::h2detail

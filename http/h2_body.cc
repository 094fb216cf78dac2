#include "http/h2_body.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/h2_util.h"

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

bool StreamBodies::route(h2::Session& session, const h2::Event& e) {
  auto it = map_.find(e.streamId);
  if (it == map_.end()) return false;
  StreamBody* b = it->second;
  if (e.kind == h2::Event::kData) {
    if (b) b->wake();
  } else if (e.kind == h2::Event::kMessage) {
    h2::Message m = session.takeMessage(e.streamId);
    Headers trailers;
    for (auto& f : m.trailers) trailers.add(f.name, f.value);
    map_.erase(it);
    if (b) b->end(std::move(m.body), std::move(trailers));
  } else if (e.kind == h2::Event::kReset) {
    map_.erase(it);
    if (b) b->fail(Error(ECONNRESET, "h2 stream reset: " + std::string(h2::errorName(e.code))));
  }
  return true;
}

void StreamBodies::drop(uint32_t id, bool keep) {
  auto it = map_.find(id);
  if (it == map_.end()) return;
  if (keep)
    it->second = nullptr;
  else
    map_.erase(it);
}

StreamBody* StreamBodies::take(uint32_t id) {
  auto it = map_.find(id);
  if (it == map_.end()) return nullptr;
  StreamBody* b = it->second;
  map_.erase(it);
  return b;
}

void StreamBodies::failAll(const Error& e) {
  auto all = std::move(map_);
  map_.clear();
  for (auto& [id, b] : all)
    if (b) b->fail(e);
}

bool endsInBatch(const std::vector<h2::Event>& events, size_t i, uint32_t id) {
  for (size_t j = i + 1; j < events.size(); ++j)
    if (events[j].streamId == id &&
        (events[j].kind == h2::Event::kMessage || events[j].kind == h2::Event::kReset))
      return true;
  return false;
}

namespace {
constexpr size_t kSendHighWater = 256 * 1024;
}

bool BodySender::congested(uint32_t id) {
  size_t u = session().unsent(id);
  if (u == SIZE_MAX) return false;
  return u > kSendHighWater || session().output().size() + inFlight() > kSendHighWater;
}

asio::awaitable<Result<void>> BodySender::sendBody(uint32_t id, BodySource& src,
                                                   std::vector<h2::HeaderField> trailers) {
  for (;;) {
    auto piece = co_await src.next();
    if (gone()) co_return Result<void>();
    if (!piece) co_return fail(std::move(piece).error());
    bool end = piece->empty();
    if (end && src.trailers()) trailers = trailerFields(*src.trailers());
    if (!session().submitData(id, *piece, end,
                              end ? std::move(trailers) : std::vector<h2::HeaderField>{}))
      co_return Result<void>();  // the stream is over (answered, reset)
    kick();
    if (end) co_return Result<void>();
    while (!gone() && congested(id)) {
      asio::steady_timer t(executor());
      t.expires_after(std::chrono::seconds(1));
      waiting_.push_back(&t);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      std::erase(waiting_, &t);
    }
  }
}

}  // namespace berth::http::h2detail

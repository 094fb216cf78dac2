#include "http/server.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/connection.h"

namespace berth::http {

namespace asio = boost::asio;
using detail::Connection;
using detail::Worker;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
thread_local Worker* tWorker = nullptr;

asio::awaitable<void> acceptLoop(Server::Impl& impl, Worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(kAwait);
    if (ec) {
      if (ec == asio::error::operation_aborted || !w.acceptor->is_open() || w.draining) co_return;
      // EMFILE and friends: back off a little instead of spinning.
      asio::steady_timer t(w.io, std::chrono::milliseconds(20));
      co_await t.async_wait(kAwait);
      continue;
    }
    if (w.draining || w.connections.size() >= impl.options.maxConnectionsPerWorker) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(impl, w, std::move(socket));
    asio::co_spawn(w.io, conn->run(conn), asio::detached);
    asio::co_spawn(w.io, conn->watchdog(conn), asio::detached);
  }
}

// The worker stops once its connections are done (and whatever options.drainBusy reports,
// e.g. HTTP/2 connections handed off) or, at the drain deadline, cuts what is left. It stops
// rather than waiting to run out of work: pooled upstream connections (a proxy's) would
// keep it running for ever.
asio::awaitable<void> watchDrain(Server::Impl& impl, Worker& w, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    bool busy = !w.connections.empty() || (impl.options.drainBusy && impl.options.drainBusy());
    if (!busy) break;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      std::vector<Connection*> left(w.connections.begin(), w.connections.end());
      for (Connection* c : left) {
        if (w.connections.count(c)) c->abort();
      }
      break;
    }
    // Woken early when a connection closes (onConnectionClosed); drainBusy is polled.
    auto wake = impl.options.drainBusy ? std::min(deadline, now + std::chrono::milliseconds(20)) : deadline;
    w.drainTimer->expires_at(wake);
    co_await w.drainTimer->async_wait(kAwait);
  }
  w.io.stop();
}

void beginDrain(Server::Impl& impl, Worker& w) {
  if (w.draining) return;
  w.draining = true;
  boost::system::error_code ec;
  if (w.acceptor) w.acceptor->close(ec);
  // Copy: closeIfIdle may destroy connections, which edit the set.
  std::vector<Connection*> conns(w.connections.begin(), w.connections.end());
  for (Connection* c : conns) {
    if (w.connections.count(c)) c->closeIfIdle();
  }
  w.drainTimer.emplace(w.io);
  asio::co_spawn(w.io, watchDrain(impl, w, std::chrono::steady_clock::now() + impl.options.drainTimeout),
                 asio::detached);
}
}  // namespace

Response Server::Impl::errorResponse(int status, std::string_view detail) const {
  if (options.errorResponse) return options.errorResponse(status, detail);
  std::string body = std::to_string(status);
  body += ' ';
  body += reasonPhrase(status);
  body += ": ";
  body += detail;
  body += '\n';
  return Response(status, std::move(body));
}

void Server::Impl::onConnectionClosed(Worker& w) {
  if (!w.ioOwner) return;  // shutting down
  if (w.draining && w.connections.empty() && w.drainTimer) w.drainTimer->cancel();
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.workers < 1) options.workers = 1;
  impl_->options = std::move(options);
}

Server::~Server() {
  stop();
  wait();
}

void Server::setHandler(Handler h) { impl_->handler = std::move(h); }
void Server::setAsyncHandler(AsyncHandler h) { impl_->asyncHandler = std::move(h); }
void Server::setStreamHandler(StreamHandler h) { impl_->streamHandler = std::move(h); }
uint16_t Server::port() const { return impl_->port; }
const ServerOptions& Server::options() const { return impl_->options; }

ServerStats Server::stats() const {
  return ServerStats{impl_->connections.load(), impl_->requests.load(), impl_->rejected.load()};
}

Result<void> Server::listen() {
  if (impl_->listening) return {};
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "listen address '" + impl_->options.host + "' is not a numeric IP address");
  uint16_t port = impl_->options.port;
  for (int i = 0; i < impl_->options.workers; ++i) {
    auto w = std::make_unique<Worker>();
    tcp::endpoint ep(addr, port);
    tcp::acceptor acc(w->io);
    acc.open(ep.protocol(), ec);
    if (ec) return fail(Error(ec.value(), "socket: " + ec.message()));
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      return failErrno("setsockopt SO_REUSEPORT");
    acc.bind(ep, ec);
    if (ec) {
      return fail(Error(ec.value(), "bind " + impl_->options.host + ":" + std::to_string(port) + ": " +
                                  ec.message()));
    }
    acc.listen(4096, ec);
    if (ec) return fail(Error(ec.value(), "listen: " + ec.message()));
    if (port == 0) port = acc.local_endpoint().port();
    w->acceptor.emplace(std::move(acc));
    impl_->workers.push_back(std::move(w));
  }
  impl_->port = port;
  impl_->listening = true;
  return {};
}

Result<void> Server::start() {
  BERTH_TRY(listen());
  if (impl_->started) return {};
  impl_->started = true;
  for (auto& wp : impl_->workers) {
    Worker* w = wp.get();
    Impl* impl = impl_.get();
    asio::co_spawn(w->io, acceptLoop(*impl, *w), asio::detached);
    w->thread = std::thread([w] {
      tWorker = w;
      for (;;) {
        try {
          w->io.run();
          break;
        } catch (const std::exception&) {
          // A handler's exception escaped a coroutine: keep serving the others.
        }
      }
      tWorker = nullptr;
    });
  }
  return {};
}

Result<void> Server::run() {
  BERTH_TRY(start());
  wait();
  return {};
}

void Server::drain() {
  impl_->draining = true;
  for (auto& wp : impl_->workers) {
    Worker* w = wp.get();
    Impl* impl = impl_.get();
    asio::post(w->io, [impl, w] { beginDrain(*impl, *w); });
  }
}

void Server::stop() {
  for (auto& wp : impl_->workers) wp->io.stop();
}

void Server::wait() {
  for (auto& wp : impl_->workers) {
    if (wp->thread.joinable() && wp->thread.get_id() != std::this_thread::get_id())
      wp->thread.join();
  }
}

asio::any_io_executor currentWorkerExecutor() {
  return tWorker ? asio::any_io_executor(tWorker->io.get_executor()) : asio::any_io_executor();
}

}  // namespace berth::http

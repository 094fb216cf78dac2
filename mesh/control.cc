// The control thread: one io_context running a 50 ms scheduler loop that ticks clusters
// (outlier ejection timers), starts due active health checks and DNS refreshes, watches the
// config file. Checks and lookups run as coroutines on the same context.

#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unordered_map>

#include "common/log.h"
#include "http/client.h"
#include "http/h2_client.h"
#include "mesh/health.h"
#include "mesh/proxy_impl.h"

namespace berth::mesh {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr milliseconds kTick{50};

struct FileStamp {
  bool ok = false;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  bool operator==(const FileStamp& o) const {
    return ok == o.ok && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

FileStamp stampOf(const std::string& path) {
  struct stat st;
  FileStamp f;
  if (::stat(path.c_str(), &st) != 0) return f;
  f.ok = true;
  f.ino = st.st_ino;
  f.size = st.st_size;
  f.mtime = st.st_mtim;
  return f;
}

}  // namespace

struct Control::Impl {
  Proxy::Impl& proxy;
  asio::io_context io{1};
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::unique_ptr<http::Client> client;
  std::unique_ptr<http::H2Client> h2client;  // health checks of protocol: h2c clusters

  struct HcState {
    std::weak_ptr<Host> host;
    std::weak_ptr<Cluster> cluster;
    MonoTime next{0};
    bool inFlight = false;
  };
  std::unordered_map<const Host*, HcState> hc;
  struct DnsState {
    MonoTime next{0};
    bool inFlight = false;
  };
  std::unordered_map<std::string, DnsState> dns;  // by cluster name
  FileStamp stamp;
  MonoTime nextWatch{0};

  explicit Impl(Proxy::Impl& p) : proxy(p) {
    http::ClientOptions o;
    o.maxIdlePerEndpoint = 2;
    client = std::make_unique<http::Client>(io.get_executor(), o);
    h2client = std::make_unique<http::H2Client>(io.get_executor());
    if (!proxy.options.configPath.empty()) stamp = stampOf(proxy.options.configPath);
  }

  asio::awaitable<void> check(std::shared_ptr<Cluster> cluster, HostPtr host, HealthCheckConfig cfg,
                              bool h2c) {
    http::Request req;
    req.method = "GET";
    req.target = cfg.path;
    req.headers.set("host", cfg.host.empty() ? host->id : cfg.host);
    req.headers.set("user-agent", "berth-proxy-health");
    auto ms = std::max<int64_t>(1, duration_cast<milliseconds>(cfg.timeout).count());
    // A named Endpoint: GCC 12 mishandles braced temporaries in co_await expressions.
    http::Endpoint ep{host->address.host, host->address.port};
    Result<http::Response> r;
    if (h2c) r = co_await h2client->request(std::move(ep), std::move(req), milliseconds(ms));
    else r = co_await client->request(std::move(ep), std::move(req), milliseconds(ms));
    bool ok = r && healthyStatus(cfg, r->status);
    cluster->onHealthCheck(host, ok);
    auto it = hc.find(host.get());
    if (it != hc.end()) it->second.inFlight = false;
  }

  asio::awaitable<void> resolve(std::shared_ptr<Cluster> cluster, DnsConfig d) {
    asio::ip::tcp::resolver resolver(io);
    std::string port = std::to_string(d.port);
    auto [ec, results] = co_await resolver.async_resolve(d.name, port, kAwait);
    if (ec) {
      log::warn("mesh: cluster " + cluster->name() + ": resolve " + d.name + ": " + ec.message() +
                " (keeping the previous endpoints)");
    } else {
      std::vector<HostPort> addrs;
      for (const auto& r : results) {
        HostPort hp{r.endpoint().address().to_string(), r.endpoint().port()};
        if (std::find(addrs.begin(), addrs.end(), hp) == addrs.end()) addrs.push_back(hp);
      }
      cluster->replaceHosts("dns", addrs);
    }
    dns[cluster->name()].inFlight = false;
  }

  void scheduleChecks(const State& st, MonoTime now) {
    for (auto& [name, cluster] : st.clusters) {
      ClusterConfig cfg = cluster->config();
      if (cfg.dns) {
        auto& d = dns[name];
        if (!d.inFlight && now >= d.next) {
          d.inFlight = true;
          d.next = now + cfg.dns->ttl;
          asio::co_spawn(io, resolve(cluster, *cfg.dns), asio::detached);
        }
      }
      if (!cfg.healthCheck.enabled) continue;
      for (auto& h : cluster->hosts()) {
        auto [it, fresh] = hc.try_emplace(h.get());
        HcState& s = it->second;
        if (fresh || s.host.expired()) {
          s = HcState{h, cluster, now, false};  // new host: check at once
        }
        if (s.inFlight || now < s.next) continue;
        s.inFlight = true;
        s.next = now + cfg.healthCheck.interval;
        asio::co_spawn(io, check(cluster, h, cfg.healthCheck, cfg.h2c), asio::detached);
      }
    }
    // Forget hosts that are gone (and not mid-check).
    for (auto it = hc.begin(); it != hc.end();) {
      if (it->second.host.expired() && !it->second.inFlight) it = hc.erase(it);
      else ++it;
    }
  }

  asio::awaitable<void> loop() {
    asio::steady_timer timer(io);
    while (!stopping.load()) {
      auto st = proxy.load();
      MonoTime now = proxy.clock.now();
      for (auto& [name, c] : st->clusters) c->tick();
      scheduleChecks(*st, now);
      if (!proxy.options.configPath.empty() && now >= nextWatch) {
        nextWatch = now + proxy.options.watchInterval;
        FileStamp s = stampOf(proxy.options.configPath);
        if (s.ok && !(s == stamp)) {
          stamp = s;
          log::info("mesh: config file changed; reloading");
          (void)proxy.reloadFile();
        }
      }
      timer.expires_after(kTick);
      co_await timer.async_wait(kAwait);
    }
  }
};

Control::Control(Proxy::Impl& proxy) : impl_(std::make_unique<Impl>(proxy)) {}

Control::~Control() { stop(); }

void Control::start() {
  asio::co_spawn(impl_->io, impl_->loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void Control::stop() {
  if (!impl_) return;
  impl_->stopping.store(true);
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace berth::mesh

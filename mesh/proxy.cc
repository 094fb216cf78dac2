#include "mesh/proxy.h"

#include <netdb.h>
#include <arpa/inet.h>

#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "mesh/proxy_impl.h"

namespace berth::mesh {

namespace {
// Request bodies longer than this (or chunked) stream to the upstream as they arrive; shorter
// ones are read whole, so they can be retried (Envoy's default buffer limit is also 1 MiB).
constexpr uint64_t kStreamRequestBodiesAbove = 1u << 20;

bool isNumericHost(const std::string& h) {
  in_addr a4;
  in6_addr a6;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

// Static endpoints may be DNS names: resolve them once, here (re-resolving is what `dns:` is
// for). IPv4 first, as most backends listen there.
Result<void> resolveStatic(Config& cfg) {
  for (auto& c : cfg.clusters)
    for (auto& ep : c.endpoints) {
      if (isNumericHost(ep.host)) continue;
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = getaddrinfo(ep.host.c_str(), nullptr, &hints, &res);
      if (rc != 0 || !res)
        return fail(ErrorCode::kNotFound, "cluster " + c.name + ": resolve " + ep.host + ": " +
                                              gai_strerror(rc));
      std::string best;
      for (addrinfo* p = res; p; p = p->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        const void* src = p->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
        if (!inet_ntop(p->ai_family, src, buf, sizeof buf)) continue;
        if (best.empty() || p->ai_family == AF_INET) best = buf;
        if (p->ai_family == AF_INET) break;
      }
      freeaddrinfo(res);
      if (best.empty()) return fail(ErrorCode::kNotFound, "cluster " + c.name + ": no address for " + ep.host);
      ep.host = best;
    }
  return {};
}

uint64_t seedFor(const std::string& name) {
  return ringHash(name) ^ std::stoull(str::randomHex(8), nullptr, 16);
}

}  // namespace

Result<std::shared_ptr<State>> Proxy::Impl::buildState(const Config& in) {
  Config cfg = in;
  BERTH_TRY(resolveStatic(cfg));
  auto st = std::make_shared<State>();
  auto old = load();
  for (auto& cc : cfg.clusters) {
    std::shared_ptr<Cluster> c;
    if (old) {
      auto it = old->clusters.find(cc.name);
      if (it != old->clusters.end()) c = it->second;
    }
    if (c) c->updateConfig(cc);
    else c = std::make_shared<Cluster>(cc, clock, seedFor(cc.name));
    st->clusters[cc.name] = std::move(c);
  }
  for (auto& l : cfg.listeners) {
    BERTH_ASSIGN(auto r, Router::build(l, st->clusters, clock));
    st->routers[l.address.str()] = std::shared_ptr<Router>(std::move(r));
  }
  st->cfg = std::move(cfg);
  return st;
}

Result<void> Proxy::Impl::syncListeners(const State& st) {
  // Drain listeners that are gone.
  std::vector<Listener> keep;
  for (auto& l : listeners) {
    if (st.routers.count(l.key)) {
      keep.push_back(std::move(l));
    } else {
      log::info("mesh: listener " + l.key + " removed; draining");
      l.h2->drain();
      l.server->drain();
      l.server->wait();
    }
  }
  listeners = std::move(keep);
  for (auto& lc : st.cfg.listeners) {
    std::string key = lc.address.str();
    bool have = false;
    for (auto& l : listeners) have = have || l.key == key;
    if (have) continue;
    http::ServerOptions so;
    so.host = lc.address.host;
    so.port = lc.address.port;
    so.workers = static_cast<int>(st.cfg.workers);
    so.drainTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(st.cfg.drainTimeout);
    // Long request bodies stream through to the upstream (no 8 MiB limit; not retried).
    so.streamRequestBodiesAbove = kStreamRequestBodiesAbove;
    so.errorResponse = [](int status, std::string_view detail) {
      http::Response r(status, std::string(http::reasonPhrase(status)) + ": " + std::string(detail) + "\n");
      r.headers.set("x-berth-reason", "bad-request");
      return r;
    };
    http::H2ServerOptions h2o;
    h2o.streamRequestBodiesAbove = kStreamRequestBodiesAbove;  // gRPC client/bidi streams too
    h2o.drainTimeout = so.drainTimeout;
    auto h2 = std::make_unique<http::H2Server>(handlerFor(key), h2o);
    so.h2cHandoff = h2->handoff();
    so.drainBusy = [h2p = h2.get()] { return h2p->connections() > 0; };
    auto server = std::make_unique<http::Server>(so);
    server->setAsyncHandler(handlerFor(key));
    auto s = server->start();
    if (!s) return fail(std::move(s).error().context("listener " + key));
    listeners.push_back({key, std::move(h2), std::move(server)});
  }
  return {};
}

Result<void> Proxy::Impl::startAdmin(const Config& cfg) {
  if (!adminUnix && !cfg.adminSocket.empty()) {
    auto u = std::make_unique<UnixAdmin>(cfg.adminSocket, [this](http::Request& r) { return adminHandle(r); });
    BERTH_TRY(u->start());
    adminUnix = std::move(u);
  }
  if (admin || !cfg.admin) return {};
  http::ServerOptions so;
  so.host = cfg.admin->host == "localhost" ? "127.0.0.1" : cfg.admin->host;
  so.port = cfg.admin->port;
  so.workers = 1;
  admin = std::make_unique<http::Server>(so);
  admin->setHandler([this](http::Request& r) { return adminHandle(r); });
  auto s = admin->start();
  if (!s) {
    admin.reset();
    return fail(std::move(s).error().context("admin " + cfg.admin->str()));
  }
  return {};
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Proxy::~Proxy() { stop(); }

Result<std::unique_ptr<Proxy>> Proxy::create(Config cfg, ProxyOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  BERTH_ASSIGN(auto st, impl->buildState(cfg));
  if (!st->cfg.accessLog.path.empty()) {
    BERTH_ASSIGN(impl->accessLog, AccessLog::open(st->cfg.accessLog.path));
  }
  impl->setExporter(st->cfg.tracing);
  impl->state = std::move(st);
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

Result<void> Proxy::start() {
  std::lock_guard lk(impl_->applyMu);
  auto st = impl_->load();
  impl_->control = std::make_unique<Control>(*impl_);
  impl_->control->start();
  // Warm up like Envoy: give health-checked clusters their first round of checks before the
  // listeners open, so the first requests do not meet hosts still waiting for a check.
  Duration longest{0};
  for (auto& c : st->cfg.clusters)
    if (c.healthCheck.enabled) longest = std::max(longest, c.healthCheck.timeout);
  if (longest.count() > 0) {
    auto until = std::chrono::steady_clock::now() + longest + std::chrono::milliseconds(200);
    auto pending = [&] {
      for (auto& [name, c] : st->clusters)
        if (c->warming()) return true;
      return false;
    };
    while (pending() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BERTH_TRY(impl_->syncListeners(*st));
  BERTH_TRY(impl_->startAdmin(st->cfg));
  impl_->started = true;
  return {};
}

Result<void> Proxy::Impl::applyConfig(Config cfg) {
  std::lock_guard lk(applyMu);
  auto st = buildState(cfg);
  if (!st) {
    counters.reloadFailures.fetch_add(1);
    return fail(std::move(st).error());
  }
  auto old = load();
  if (old->cfg.admin != (*st)->cfg.admin)
    log::warn("mesh: admin address changes need a restart; keeping " +
              (old->cfg.admin ? old->cfg.admin->str() : std::string("none")));
  {
    std::lock_guard sl(stateMu);
    state = *st;
  }
  if (started) {
    auto s = syncListeners(**st);
    if (!s) {
      counters.reloadFailures.fetch_add(1);
      return fail(std::move(s).error().context("reload"));
    }
  }
  setExporter((*st)->cfg.tracing);
  counters.reloads.fetch_add(1);
  log::info("mesh: config applied");
  return {};
}

void Proxy::Impl::setExporter(const TracingConfig& t) {
  std::string url = t.otlpEndpoint.empty() ? "" : "http://" + t.otlpEndpoint + "/v1/traces";
  std::shared_ptr<telemetry::SpanExporter> old;
  {
    std::lock_guard lk(exporterMu);
    if (url == exporterEndpoint) return;
    exporterEndpoint = url;
    old = std::move(exporter);
    if (!url.empty()) exporter = std::make_shared<telemetry::OtlpHttpExporter>(url, t.serviceName);
    tracing.store(exporter != nullptr);
  }
  if (old) old->shutdown();
}

Result<void> Proxy::Impl::reloadFile() {
  if (options.configPath.empty())
    return fail(ErrorCode::kFailedPrecondition, "no config file to reload");
  auto cfg = loadConfigFile(options.configPath);
  if (!cfg) {
    counters.reloadFailures.fetch_add(1);
    log::error("mesh: reload failed, keeping the running config: " + cfg.error().message());
    return fail(std::move(cfg).error());
  }
  return applyConfig(std::move(*cfg));
}

Result<void> Proxy::apply(Config cfg) { return impl_->applyConfig(std::move(cfg)); }

Result<void> Proxy::reload() { return impl_->reloadFile(); }

void Proxy::drain() {
  std::lock_guard lk(impl_->applyMu);
  for (auto& l : impl_->listeners) {
    l.h2->drain();
    l.server->drain();
  }
}

void Proxy::wait() {
  std::vector<http::Server*> servers;
  {
    std::lock_guard lk(impl_->applyMu);
    for (auto& l : impl_->listeners) servers.push_back(l.server.get());
  }
  for (auto* s : servers) s->wait();
}

void Proxy::stop() {
  if (!impl_) return;
  if (impl_->control) impl_->control->stop();
  std::lock_guard lk(impl_->applyMu);
  for (auto& l : impl_->listeners) l.server->stop();
  for (auto& l : impl_->listeners) l.server->wait();
  impl_->listeners.clear();
  impl_->adminUnix.reset();
  if (impl_->admin) {
    impl_->admin->stop();
    impl_->admin->wait();
    impl_->admin.reset();
  }
  impl_->control.reset();
  impl_->started = false;
  if (auto e = impl_->currentExporter()) e->shutdown();
}

uint16_t Proxy::listenerPort(size_t index) const {
  std::lock_guard lk(impl_->applyMu);
  auto st = impl_->load();
  if (index >= st->cfg.listeners.size()) return 0;
  std::string key = st->cfg.listeners[index].address.str();
  for (auto& l : impl_->listeners)
    if (l.key == key) return l.server->port();
  return 0;
}

uint16_t Proxy::adminPort() const {
  std::lock_guard lk(impl_->applyMu);
  return impl_->admin ? impl_->admin->port() : 0;
}

std::string Proxy::metricsText() const {
  return renderPrometheus(impl_->snapshots(), impl_->proxyCounters());
}

std::string Proxy::statsJson() const {
  return renderStatsJson(impl_->snapshots(), impl_->proxyCounters());
}

}  // namespace berth::mesh

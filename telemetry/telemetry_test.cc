#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "http/server.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"

namespace berth::telemetry {
namespace {

TEST(MetricsTest, CounterGaugeExposition) {
  Registry r;
  auto& reqs = r.counter("http_requests_total", "Requests.", {"route", "status"});
  reqs.with({"/add", "200"}).inc();
  reqs.with({"/add", "200"}).inc(2);
  reqs.with({"/a\"b\\c\nd", "500"}).inc();
  r.gauge("in_flight", "In flight.").with({}).set(3);
  std::string text = r.expose();
  EXPECT_NE(text.find("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/add\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("route=\"/a\\\"b\\\\c\\nd\""), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE in_flight gauge\nin_flight 3\n"), std::string::npos) << text;
}

TEST(MetricsTest, HistogramIsCumulative) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "Latency.", {"route"}, {0.1, 1});
  h.with({"/x"}).observe(0.05);
  h.with({"/x"}).observe(0.5);
  h.with({"/x"}).observe(5);
  std::string text = r.expose();
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum{route=\"/x\"} 5.55\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count{route=\"/x\"} 3\n"), std::string::npos);
}

TEST(MetricsTest, StripedUpdatesFromManyThreadsAddUp) {
  Counter c;
  Histogram h({0.5, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {  // more threads than stripes: some share one
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 120000);
  EXPECT_EQ(h.count(), 120000u);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{60000, 60000, 0}));
  EXPECT_DOUBLE_EQ(h.sum(), 60000 * 1.0 + 60000 * 0.25);
}

TEST(MetricsTest, ProcessMetrics) {
  Registry r;
  registerProcessMetrics(r);
  std::string text = r.expose();
  for (const char* m : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                        "process_open_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(text.find(m), std::string::npos) << m;
  }
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos);
}

TEST(MetricsTest, SameFamilyTwice) {
  Registry r;
  auto& a = r.counter("x_total", "x");
  auto& b = r.counter("x_total", "x");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(formatValue(0.5), "0.5");
  EXPECT_EQ(formatValue(0.0001), "0.0001");
  EXPECT_EQ(formatValue(1e-12), "1e-12");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
}

TEST(TraceTest, ParseAndFormatTraceparent) {
  const char* tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto c = TraceContext::parse(tp);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->traceparent(), tp);
  EXPECT_TRUE(c->sampled());
  auto child = c->child();
  EXPECT_EQ(child.traceIdHex(), c->traceIdHex());
  EXPECT_NE(child.spanIdHex(), c->spanIdHex());
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                          "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(TraceContext::parse(bad)) << bad;
  }
  EXPECT_TRUE(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"));
  auto root = TraceContext::newRoot();
  EXPECT_TRUE(TraceContext::parse(root.traceparent()));
}

TEST(TraceTest, OtlpJsonShape) {
  Span s;
  s.name = "POST /add";
  s.context = TraceContext::newRoot();
  s.parentSpanId = TraceContext::newRoot().spanId;
  s.startUnixNano = 1;
  s.endUnixNano = 2;
  s.stringAttributes = {{"http.route", "/add"}};
  s.intAttributes = {{"http.response.status_code", 200}};
  auto j = nlohmann::json::parse(otlpTracesJson({s}, "calc"));
  auto& span = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(j["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "calc");
  EXPECT_EQ(span["traceId"], s.context.traceIdHex());
  EXPECT_EQ(span["name"], "POST /add");
  EXPECT_EQ(span["kind"], 2);
  EXPECT_EQ(span["startTimeUnixNano"], "1");
  EXPECT_EQ(span["attributes"][1]["value"]["intValue"], "200");
}

TEST(TraceTest, ExporterPostsToCollector) {
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  http::Server collector(o);
  std::atomic<int> spans{0};
  std::string path;
  std::mutex mu;
  collector.setHandler([&](http::Request& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_discarded()) spans += static_cast<int>(j["resourceSpans"][0]["scopeSpans"][0]["spans"].size());
    std::lock_guard<std::mutex> lock(mu);
    path = std::string(r.path());
    return http::Response(200, "{}", "application/json");
  });
  ASSERT_TRUE(collector.start());
  {
    OtlpHttpExporter exp("http://127.0.0.1:" + std::to_string(collector.port()), "svc");
    for (int i = 0; i < 3; ++i) {
      Span s;
      s.name = "op";
      s.context = TraceContext::newRoot();
      exp.submit(std::move(s));
    }
    exp.shutdown();
    EXPECT_EQ(exp.exported(), 3u);
  }
  EXPECT_EQ(spans.load(), 3);
  EXPECT_EQ(path, "/v1/traces");
  collector.stop();
  collector.wait();
}

}  // namespace
}  // namespace berth::telemetry

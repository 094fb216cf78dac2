#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "sdk/access_log.h"

#include "http/client.h"
#include "sdk/config.h"
#include "sdk/json.h"
#include "sdk/router.h"
#include "sdk/service.h"

namespace berth::sdk {
namespace {

TEST(RouterTest, ParamsAnd404And405) {
  Router<int> r;
  ASSERT_TRUE(r.add("GET", "/users/{id}", 1));
  ASSERT_TRUE(r.add("POST", "/users", 2));
  ASSERT_TRUE(r.add("DELETE", "/users/{id}", 3));
  ASSERT_TRUE(r.add("GET", "/users/{id}/orders/{order}", 4));
  EXPECT_FALSE(r.add("GET", "users", 5));
  EXPECT_FALSE(r.add("GET", "/a{b}", 5));

  auto m = r.match("GET", "/users/a%20b");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.route->target, 1);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "a b");

  m = r.match("GET", "/users/7/orders/9");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.params[1].second, "9");

  m = r.match("PUT", "/users/7");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, DELETE, HEAD");

  EXPECT_EQ(r.match("HEAD", "/users/7").route->target, 1);
  EXPECT_EQ(r.match("GET", "/nope").status, 404);
  EXPECT_EQ(r.match("GET", "/users/").status, 404);
  EXPECT_EQ(r.match("GET", "/users/7/").status, 404);
}

TEST(JsonTest, ContentTypes) {
  EXPECT_TRUE(jsonContentType(""));
  EXPECT_TRUE(jsonContentType("application/json"));
  EXPECT_TRUE(jsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(jsonContentType("application/problem+json"));
  EXPECT_TRUE(jsonContentType("application/x-www-form-urlencoded"));
  EXPECT_FALSE(jsonContentType("text/plain"));
  EXPECT_FALSE(jsonContentType("multipart/form-data; boundary=x"));
  EXPECT_FALSE(jsonContentType("application/xml"));
}

int statusOf(std::string_view text) {
  try {
    parseJson(text);
  } catch (const HttpError& e) {
    return e.status();
  }
  return 200;
}

TEST(JsonTest, StrictNumbers) {
  EXPECT_EQ(statusOf(R"({"a": 1})"), 200);
  EXPECT_EQ(statusOf(R"({"a": 1)"), 400);
  EXPECT_EQ(statusOf(""), 400);
  EXPECT_EQ(statusOf(R"({"a": 99999999999999999999999})"), 422);
  EXPECT_EQ(statusOf(R"({"a": 1e400})"), 422);
  EXPECT_EQ(statusOf(R"({"a": 1e300})"), 200);
  EXPECT_EQ(statusOf(R"({"a": NaN})"), 400);
}

TEST(JsonTest, FlatFastPathMatchesTheFullParser) {
  for (std::string_view in : {R"({"a": 1, "b": 2})", R"( {"a":-1,"b":-0} )", R"({})", R"({ })",
                              R"({"a": 0.5, "b": 1e3, "c": -2.5E-3, "d": 18446744073709551615})",
                              R"({"s": "x y", "t": true, "f": false, "n": null, "e": ""})",
                              R"({"a": 1, "a": 2})", "{\"a\":\t1\r\n}", R"({"a": -9223372036854775808})"}) {
    Json fast;
    ASSERT_TRUE(parseFlatObject(in, fast)) << in;
    Json full = Json::parse(in);
    EXPECT_EQ(fast, full) << in;
    EXPECT_EQ(fast.dump(), full.dump()) << in;
    for (auto& [k, v] : full.items()) EXPECT_EQ(fast[k].type(), v.type()) << in << " " << k;
  }
  // Everything else is left to the full parser (and `out` is untouched).
  for (std::string_view in : {R"({"a": {"b": 1}})", R"({"a": [1]})", R"({"a\"b": 1})", R"({"é": 1})",
                              R"({"a": 1e400})", R"({"a": 99999999999999999999})", R"({"a": 01})",
                              R"({"a": 1.})", R"({"a": 1,})", R"({"a" 1})", R"({"a": 1} x)", R"([1])",
                              R"({"a": tru})", R"({"a": -})", "", R"({"a": "x\ny"})"}) {
    Json out = 7;
    EXPECT_FALSE(parseFlatObject(in, out)) << in;
    EXPECT_EQ(out, 7) << in;
  }
}

TEST(JsonTest, FlatObjectsReuseTheirNodes) {
  Json out;
  ASSERT_TRUE(parseFlatObject(R"({"a": 1, "b": 2})", out));
  const Json* a = &out["a"];
  ASSERT_TRUE(parseFlatObject(R"({"b": "x", "a": 2.5})", out));
  EXPECT_EQ(&out["a"], a);  // same node, new value
  EXPECT_EQ(out, Json::parse(R"({"a": 2.5, "b": "x"})"));
  ASSERT_TRUE(parseFlatObject(R"({"a": 1, "a": 3})", out));  // same count as before, one key
  EXPECT_EQ(out, Json::parse(R"({"a": 3})"));
  ASSERT_TRUE(parseFlatObject(R"({"c": 1, "d": 2})", out));
  EXPECT_EQ(out, Json::parse(R"({"c": 1, "d": 2})"));
}

TEST(AccessLogTest, LinesOfEachThreadStayInOrder) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  });
  {
    AccessLog log(fds[1]);
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&log, t] {
        for (int i = 0; i < 2000; ++i) log.write("t" + std::to_string(t) + " " + std::to_string(i));
      });
    }
    for (auto& w : writers) w.join();
  }  // the destructor flushes
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  std::vector<int> next(4, 0);
  size_t lines = 0;
  for (size_t p = 0; p < got.size();) {
    size_t nl = got.find('\n', p);
    ASSERT_NE(nl, std::string::npos);
    std::string line = got.substr(p, nl - p);
    p = nl + 1;
    int t = line[1] - '0';
    ASSERT_TRUE(t >= 0 && t < 4) << line;
    EXPECT_EQ(std::stoi(line.substr(3)), next[t]) << line;
    ++next[t];
    ++lines;
  }
  EXPECT_EQ(lines, 8000u);
}

TEST(ErrorsTest, JsonBodies) {
  auto r = errorResponse(405, "nope", "GET, HEAD");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.get("allow"), "GET, HEAD");
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["error"], "method not allowed");
  EXPECT_EQ(j["detail"], "nope");
  r = errorResponse(500, "stack trace and secrets");
  EXPECT_EQ(r.body.find("secrets"), std::string::npos);
  EXPECT_EQ(Json::parse(r.body)["error"], "internal error");
  EXPECT_EQ(r.headers.get("content-type"), "application/json");
}

TEST(ConfigTest, EnvThenFlags) {
  ::setenv("PORT", "8081", 1);
  ::setenv("WORKERS", "2", 1);
  ::setenv("MAX_BODY_BYTES", "64k", 1);
  Config c;
  ASSERT_TRUE(c.applyEnv());
  EXPECT_EQ(c.port, 8081);
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.maxBodyBytes, 65536u);
  const char* argv[] = {"svc", "--port", "9090", "--workers=3", "--no-access-log"};
  ASSERT_TRUE(c.applyArgs(5, const_cast<char**>(argv)));
  EXPECT_EQ(c.port, 9090);
  EXPECT_EQ(c.workers, 3);
  EXPECT_FALSE(c.accessLog);
  const char* bad[] = {"svc", "--port", "http"};
  auto r = c.applyArgs(3, const_cast<char**>(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("--port"), std::string::npos);
  ::setenv("PORT", "99999", 1);
  Config d;
  auto e = d.applyEnv();
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("PORT"), std::string::npos);
  ::unsetenv("PORT");
  ::unsetenv("WORKERS");
  ::unsetenv("MAX_BODY_BYTES");
}

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : svc_("test") {
    svc_.config().accessLog = false;
    svc_.get("/items/{id}", [](Context& c) { return jsonResponse(200, {{"id", c.param("id")}}); });
    svc_.post("/echo", [](Context& c) { return jsonResponse(200, c.json()); });
    svc_.get("/boom", [](Context&) -> http::Response { throw std::runtime_error("db password is hunter2"); });
    svc_.get("/trace", [](Context& c) { return http::Response(200, c.traceparent()); });
  }
  http::Response call(std::string method, std::string target, std::string body = {},
                      std::string contentType = "application/json") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    if (!contentType.empty()) r.headers.add("Content-Type", contentType);
    return svc_.handle(r);
  }
  Service svc_;
};

TEST_F(ServiceTest, RoutesAndErrors) {
  auto r = call("GET", "/items/42");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["id"], "42");
  EXPECT_EQ(call("POST", "/echo", R"({"x":1})").body, R"({"x":1})");
  EXPECT_EQ(call("POST", "/echo", R"({"x":)").status, 400);
  EXPECT_EQ(Json::parse(call("POST", "/echo", R"({"x":)").body)["error"], "malformed JSON");
  EXPECT_EQ(call("POST", "/echo", "<x/>", "application/xml").status, 415);
  EXPECT_EQ(call("POST", "/echo", R"({"x": 1e999})").status, 422);
  auto nf = call("GET", "/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(Json::parse(nf.body)["error"], "not found");
  auto na = call("DELETE", "/echo");
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.headers.get("allow"), "POST");
  auto boom = call("GET", "/boom");
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(boom.body.find("hunter2"), std::string::npos);
}

TEST_F(ServiceTest, HealthReadyMetrics) {
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  bool ready = false;
  svc_.readiness("db", [&] { return ready; });
  auto r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json::parse(r.body)["failed"][0], "db");
  ready = true;
  EXPECT_EQ(call("GET", "/readyz").status, 200);

  call("GET", "/items/1");
  call("GET", "/items/2");
  call("GET", "/nope");
  std::string m = call("GET", "/metrics").body;
  EXPECT_NE(m.find("http_requests_total{method=\"GET\",route=\"/items/{id}\",status=\"200\"} 2\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("http_request_duration_seconds_bucket{route=\"/items/{id}\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(m.find("# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight 1\n"),
            std::string::npos);  // the /metrics request itself
  EXPECT_NE(m.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(m.find("process_cpu_seconds_total "), std::string::npos);
}

TEST_F(ServiceTest, TraceparentIsContinued) {
  http::Request r;
  r.target = "/trace";
  r.headers.add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto resp = svc_.handle(r);
  EXPECT_EQ(resp.body.substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  EXPECT_NE(resp.body.substr(36, 16), "00f067aa0ba902b7");
  r.headers.set("traceparent", "garbage");
  resp = svc_.handle(r);
  EXPECT_EQ(resp.body.size(), 55u);
  EXPECT_NE(resp.body.substr(3, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(ServiceTest, ServesOverHttpAndDrains) {
  svc_.config().host = "127.0.0.1";
  svc_.config().port = 0;
  ASSERT_TRUE(svc_.start());
  std::string base = "http://127.0.0.1:" + std::to_string(svc_.port());
  http::Request req;
  req.method = "POST";
  req.body = R"({"k":"v"})";
  auto r = http::fetch(base + "/echo", req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"k":"v"})");
  // The HTTP layer's own rejections are JSON too.
  http::Request big;
  big.method = "POST";
  big.body = std::string(2 << 20, 'x');
  r = http::fetch(base + "/echo", big);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(Json::parse(r->body)["error"], "payload too large");
  svc_.shutdown();
  EXPECT_FALSE(http::fetch(base + "/healthz", http::Request{}, std::chrono::milliseconds(300)));
}

}  // namespace
}  // namespace berth::sdk

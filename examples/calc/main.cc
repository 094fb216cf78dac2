// calc: POST /add, /sub, /mul, /div with {"a": NUMBER, "b": NUMBER} -> {"result": NUMBER}.
// Everything else (health, readiness, metrics, traces, logs, limits, drain) comes from the SDK.
#include <cstdio>

#include "calc.h"
#include "http/io_backend.h"
#include "sdk/service.h"

int main(int argc, char** argv) {
  // The io_uring build hands over to calc-epoll where io_uring is unusable (http/io_backend.h).
  if (auto io = berth::http::ensureIoBackend(argv); !io) {
    std::fprintf(stderr, "calc: %s\n", io.error().message().c_str());
    return 1;
  }
  berth::sdk::Service svc("calc");
  svc.config().port = 80;  // PORT or --port override
  const std::pair<const char*, calc::Op> ops[] = {
      {"/add", calc::Op::kAdd}, {"/sub", calc::Op::kSub},
      {"/mul", calc::Op::kMul}, {"/div", calc::Op::kDiv}};
  for (auto [path, op] : ops) {
    svc.post(path, [op = op](berth::sdk::Context& c) {
      std::string result = calc::compute(op, c.json());
      return berth::http::Response::json(200, "{\"result\":" + result + "}");
    });
  }
  return svc.run(argc, argv);
}

// calc: POST /add, /sub, /mul, /div with {"a": NUMBER, "b": NUMBER} -> {"result": NUMBER}.
// Everything else (health, readiness, metrics, traces, logs, limits, drain) comes from the SDK.
#include "calc.h"
#include "sdk/service.h"

int main(int argc, char** argv) {
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

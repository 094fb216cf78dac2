#include "engine/config.h"

#include <nlohmann/json.hpp>

namespace berth::engine {

using nlohmann::json;

void to_json(json& j, const MountSpec& m) {
  j = json{{"type", m.type}, {"source", m.source}, {"destination", m.destination},
           {"readOnly", m.readOnly}, {"options", m.options}};
  if (m.noCopy) j["noCopy"] = true;
}
void from_json(const json& j, MountSpec& m) {
  m.type = j.value("type", "");
  m.source = j.value("source", "");
  m.destination = j.value("destination", "");
  m.readOnly = j.value("readOnly", false);
  m.noCopy = j.value("noCopy", false);
  m.options = j.value("options", std::vector<std::string>{});
}
void to_json(json& j, const Ulimit& u) {
  j = json{{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}};
}
void from_json(const json& j, Ulimit& u) {
  u.name = j.value("name", "");
  u.soft = j.value("soft", uint64_t{0});
  u.hard = j.value("hard", uint64_t{0});
}

std::string configToJson(const ContainerConfig& c) {
  json ports = json::array();
  for (auto& p : c.ports)
    ports.push_back({{"hostIp", p.hostIp}, {"hostPort", p.hostPort},
                     {"containerPort", p.containerPort}, {"protocol", p.protocol}});
  json j = {{"image", c.image},
            {"cmd", c.cmd},
            {"args", c.args},
            {"env", c.env},
            {"user", c.user},
            {"workdir", c.workdir},
            {"hostname", c.hostname},
            {"tty", c.tty},
            {"interactive", c.interactive},
            {"autoRemove", c.autoRemove},
            {"init", c.init},
            {"readOnly", c.readOnly},
            {"privileged", c.privileged},
            {"noNewPrivileges", c.noNewPrivileges},
            {"publishAll", c.publishAll},
            {"ports", ports},
            {"mounts", c.mounts},
            {"memory", c.memory},
            {"nanoCpus", c.nanoCpus},
            {"pidsLimit", c.pidsLimit},
            {"capAdd", c.capAdd},
            {"capDrop", c.capDrop},
            {"seccomp", c.seccomp},
            {"network", c.network},
            {"networkAliases", c.networkAliases},
            {"restart", {{"name", c.restart.name}, {"maxRetries", c.restart.maxRetries}}},
            {"labels", c.labels},
            {"stopSignal", c.stopSignal},
            {"stopTimeout", c.stopTimeout},
            {"ulimits", c.ulimits},
            {"logMaxSize", c.logMaxSize},
            {"logMaxFile", c.logMaxFile}};
  if (c.entrypoint) j["entrypoint"] = *c.entrypoint;
  if (c.health)
    j["health"] = {{"test", c.health->test},
                   {"intervalMs", c.health->intervalMs},
                   {"timeoutMs", c.health->timeoutMs},
                   {"startPeriodMs", c.health->startPeriodMs},
                   {"retries", c.health->retries}};
  return j.dump();
}

Result<ContainerConfig> configFromJson(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return fail(ErrorCode::kCorrupt, "container config: bad JSON");
  try {
    ContainerConfig c;
    c.image = j.value("image", "");
    if (j.contains("entrypoint")) c.entrypoint = j["entrypoint"].get<std::vector<std::string>>();
    c.cmd = j.value("cmd", std::vector<std::string>{});
    c.args = j.value("args", std::vector<std::string>{});
    c.env = j.value("env", std::vector<std::string>{});
    c.user = j.value("user", "");
    c.workdir = j.value("workdir", "");
    c.hostname = j.value("hostname", "");
    c.tty = j.value("tty", false);
    c.interactive = j.value("interactive", false);
    c.autoRemove = j.value("autoRemove", false);
    c.init = j.value("init", false);
    c.readOnly = j.value("readOnly", false);
    c.privileged = j.value("privileged", false);
    c.noNewPrivileges = j.value("noNewPrivileges", false);
    c.publishAll = j.value("publishAll", false);
    for (auto& p : j.value("ports", json::array())) {
      network::PortMapping m;
      m.hostIp = p.value("hostIp", "");
      m.hostPort = p.value("hostPort", uint16_t{0});
      m.containerPort = p.value("containerPort", uint16_t{0});
      m.protocol = p.value("protocol", "tcp");
      c.ports.push_back(m);
    }
    c.mounts = j.value("mounts", std::vector<MountSpec>{});
    c.memory = j.value("memory", int64_t{0});
    c.nanoCpus = j.value("nanoCpus", int64_t{0});
    c.pidsLimit = j.value("pidsLimit", int64_t{0});
    c.capAdd = j.value("capAdd", std::vector<std::string>{});
    c.capDrop = j.value("capDrop", std::vector<std::string>{});
    c.seccomp = j.value("seccomp", "");
    c.network = j.value("network", "bridge");
    c.networkAliases = j.value("networkAliases", std::vector<std::string>{});
    if (j.contains("restart")) {
      c.restart.name = j["restart"].value("name", "no");
      c.restart.maxRetries = j["restart"].value("maxRetries", 0);
    }
    if (j.contains("health")) {
      HealthConfig h;
      auto& hj = j["health"];
      h.test = hj.value("test", std::vector<std::string>{});
      h.intervalMs = hj.value("intervalMs", int64_t{30000});
      h.timeoutMs = hj.value("timeoutMs", int64_t{30000});
      h.startPeriodMs = hj.value("startPeriodMs", int64_t{0});
      h.retries = hj.value("retries", 3);
      c.health = h;
    }
    c.labels = j.value("labels", std::map<std::string, std::string>{});
    c.stopSignal = j.value("stopSignal", 15);
    c.stopTimeout = j.value("stopTimeout", 10);
    c.ulimits = j.value("ulimits", std::vector<Ulimit>{});
    c.logMaxSize = j.value("logMaxSize", int64_t{10 << 20});
    c.logMaxFile = j.value("logMaxFile", 3);
    return c;
  } catch (const json::exception& e) {
    return fail(ErrorCode::kCorrupt, std::string("container config: ") + e.what());
  }
}

}  // namespace berth::engine

// `volume create|ls|inspect|rm|prune`, `network create|ls|inspect|rm|connect|disconnect`,
// `system prune|df`: each parses its flags, calls berth::engine::Engine and prints.
#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/container_util.h"
#include "common/fs.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "image/store.h"

namespace berth::cli {

using engine::Engine;
using nlohmann::json;

namespace {

std::map<std::string, std::string> parseLabels(const std::vector<std::string>& ls) {
  std::map<std::string, std::string> m;
  for (auto& l : ls) {
    auto [k, v] = str::splitOnce(l, '=');
    m[k] = v.value_or("");
  }
  return m;
}

int64_t duBytes(const std::string& path) {
  int64_t total = 0;
  auto names = fs::listDir(path);
  if (!names) return 0;
  for (auto& n : *names) {
    std::string p = path + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) total += duBytes(p);
    else total += st.st_blocks * 512;
  }
  return total;
}

}  // namespace

void registerVolumes(CLI::App& app, Globals& g) {
  auto* vol = app.add_subcommand("volume", "manage volumes");
  vol->require_subcommand(1);
  {
    auto name = std::make_shared<std::string>();
    auto labels = std::make_shared<std::vector<std::string>>();
    auto* c = vol->add_subcommand("create", "create a volume");
    c->add_option("--label", *labels);
    c->add_option("name", *name);
    c->callback([&g, name, labels] {
      auto e = openEngine(g);
      if (!e) return;
      auto v = e->volumeCreate(*name, parseLabels(*labels));
      if (!v) g.exitCode = reportError(v.error());
      else std::printf("%s\n", v->name.c_str());
    });
  }
  {
    auto quiet = std::make_shared<bool>(false);
    auto* c = vol->add_subcommand("ls", "list volumes");
    c->add_flag("-q,--quiet", *quiet);
    c->callback([&g, quiet] {
      auto e = openEngine(g);
      if (!e) return;
      auto vs = e->records().listVolumes();
      if (!vs) {
        g.exitCode = reportError(vs.error());
        return;
      }
      std::vector<std::vector<std::string>> rows = {{"DRIVER", "VOLUME NAME"}};
      for (auto& v : *vs) {
        if (*quiet) std::printf("%s\n", v.name.c_str());
        rows.push_back({v.driver, v.name});
      }
      if (!*quiet) printTable(rows);
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = vol->add_subcommand("inspect", "show volumes as JSON");
    c->add_option("names", *names)->required();
    c->callback([&g, names] {
      json arr = json::array();
      forEach(g, *names, [&](Engine& e, const std::string& n) -> Result<void> {
        BERTH_ASSIGN(auto v, e.records().getVolume(n));
        arr.push_back({{"Name", v.name}, {"Driver", v.driver},
                       {"Mountpoint", e.paths().volumeData(v.name)},
                       {"CreatedAt", engine::rfc3339(v.created)}, {"Labels", v.labels},
                       {"Scope", "local"}, {"Anonymous", v.anonymous}});
        return {};
      });
      if (!arr.empty()) std::printf("%s\n", arr.dump(4).c_str());
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* c = vol->add_subcommand("rm", "remove volumes");
    c->add_flag("-f,--force", *force);
    c->add_option("names", *names)->required();
    c->callback([&g, names, force] {
      forEach(g, *names, [&](Engine& e, const std::string& n) -> Result<void> {
        BERTH_TRY(e.volumeRemove(n, *force));
        std::printf("%s\n", n.c_str());
        return {};
      });
    });
  }
  {
    auto force = std::make_shared<bool>(false);
    auto* c = vol->add_subcommand("prune", "remove volumes no container uses");
    c->add_flag("-f,--force", *force, "(accepted; berth never prompts)");
    c->callback([&g] {
      auto e = openEngine(g);
      if (!e) return;
      auto u = e->unusedVolumes();
      if (!u) {
        g.exitCode = reportError(u.error());
        return;
      }
      std::printf("Deleted Volumes:\n");
      for (auto& v : *u)
        if (e->volumeRemove(v, false)) std::printf("%s\n", v.c_str());
    });
  }
}

void registerNetworks(CLI::App& app, Globals& g) {
  auto* net = app.add_subcommand("network", "manage CNI networks");
  net->require_subcommand(1);
  {
    auto name = std::make_shared<std::string>();
    auto subnet = std::make_shared<std::string>();
    auto driver = std::make_shared<std::string>("bridge");
    auto internal = std::make_shared<bool>(false);
    auto labels = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("create", "create a bridge network");
    c->add_option("--subnet", *subnet, "IPv4 CIDR (default: a free 10.x.y.0/24)");
    c->add_option("-d,--driver", *driver, "bridge");
    c->add_flag("--internal", *internal, "no masquerading to the outside");
    c->add_option("--label", *labels);
    c->add_option("name", *name)->required();
    c->callback([&g, name, subnet, driver, internal, labels] {
      if (*driver != "bridge") {
        g.exitCode = reportError("unsupported network driver \"" + *driver + "\" (bridge)");
        return;
      }
      auto e = openEngine(g);
      if (!e) return;
      auto n = e->networkCreate(*name, *subnet, *internal, parseLabels(*labels));
      if (!n) g.exitCode = reportError(n.error());
      else std::printf("%s\n", n->id.c_str());
    });
  }
  {
    auto quiet = std::make_shared<bool>(false);
    auto* c = net->add_subcommand("ls", "list networks");
    c->add_flag("-q,--quiet", *quiet);
    c->callback([&g, quiet] {
      auto e = openEngine(g);
      if (!e) return;
      auto ns = e->networks().list();
      if (!ns) {
        g.exitCode = reportError(ns.error());
        return;
      }
      std::vector<std::vector<std::string>> rows = {{"NETWORK ID", "NAME", "DRIVER", "SUBNET"}};
      for (auto& n : *ns) {
        if (*quiet) std::printf("%s\n", n.id.substr(0, 12).c_str());
        rows.push_back({n.id.substr(0, 12), n.name, n.driver, n.subnet});
      }
      if (!*quiet) printTable(rows);
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("inspect", "show networks as JSON");
    c->add_option("names", *names)->required();
    c->callback([&g, names] {
      json arr = json::array();
      forEach(g, *names, [&](Engine& e, const std::string& n) -> Result<void> {
        BERTH_ASSIGN(auto info, e.networks().get(n));
        json j = json::parse(network::networkToJson(info));
        json ctrs = json::object();
        if (auto all = e.list(); all)
          for (auto& r : *all)
            for (auto& a : r.networks)
              if (a.network == info.name)
                ctrs[r.id] = {{"Name", r.name}, {"IPv4Address", a.ip}, {"MacAddress", a.mac}};
        j["Containers"] = ctrs;
        arr.push_back(j);
        return {};
      });
      if (!arr.empty()) std::printf("%s\n", arr.dump(4).c_str());
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("rm", "remove networks");
    c->add_option("names", *names)->required();
    c->callback([&g, names] {
      forEach(g, *names, [&](Engine& e, const std::string& n) -> Result<void> {
        BERTH_TRY(e.networkRemove(n));
        std::printf("%s\n", n.c_str());
        return {};
      });
    });
  }
  {
    auto args = std::make_shared<std::vector<std::string>>();
    auto aliases = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("connect", "attach a running container to a network");
    c->add_option("--alias", *aliases);
    c->add_option("args", *args, "NETWORK CONTAINER")->required()->expected(2);
    c->callback([&g, args, aliases] {
      auto e = openEngine(g);
      if (!e) return;
      if (auto r = e->networkConnect((*args)[0], (*args)[1], *aliases); !r)
        g.exitCode = reportError(r.error());
    });
  }
  {
    auto args = std::make_shared<std::vector<std::string>>();
    auto* c = net->add_subcommand("disconnect", "detach a container from a network");
    c->add_option("args", *args, "NETWORK CONTAINER")->required()->expected(2);
    c->callback([&g, args] {
      auto e = openEngine(g);
      if (!e) return;
      if (auto r = e->networkDisconnect((*args)[0], (*args)[1]); !r)
        g.exitCode = reportError(r.error());
    });
  }
}

void registerSystem(CLI::App& app, Globals& g) {
  auto* sys = app.add_subcommand("system", "prune and disk usage");
  sys->require_subcommand(1);
  {
    auto all = std::make_shared<bool>(false);
    auto vols = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    auto* c = sys->add_subcommand("prune", "remove stopped containers, unused networks, "
                                           "dangling images (and unused volumes with --volumes)");
    c->add_flag("-a,--all", *all, "remove all unused images, not only dangling ones");
    c->add_flag("--volumes", *vols, "prune volumes too");
    c->add_flag("-f,--force", *force, "(accepted; berth never prompts)");
    c->callback([&g, all, vols] {
      auto e = openEngine(g);
      if (!e) return;
      auto rep = e->systemPrune(*all, *vols);
      if (!rep) {
        g.exitCode = reportError(rep.error());
        return;
      }
      std::printf("Deleted Containers: %zu\nDeleted Networks: %zu\nDeleted Volumes: %zu\n"
                  "Deleted Images: %zu\n",
                  rep->containers.size(), rep->networks.size(), rep->volumes.size(),
                  rep->images.size());
    });
  }
  {
    auto* c = sys->add_subcommand("df", "disk usage of images, containers and volumes");
    c->callback([&g] {
      auto e = openEngine(g);
      if (!e) return;
      std::vector<std::vector<std::string>> rows = {{"TYPE", "TOTAL", "ACTIVE", "SIZE"}};
      int64_t imgBytes = 0;
      size_t imgCount = 0;
      if (auto st = image::Store::open(g.root); st) {
        if (auto l = st->list(); l) {
          imgCount = l->size();
          for (auto& i : *l) imgBytes += i.size;
        }
      }
      auto recs = e->list();
      size_t active = 0;
      int64_t ctrBytes = 0;
      if (recs) {
        for (auto& r : *recs) {
          if (r.lifecycle().isActive()) ++active;
          ctrBytes += duBytes(e->paths().upper(r.id));
        }
      }
      auto vols = e->records().listVolumes();
      int64_t volBytes = 0;
      size_t volCount = vols ? vols->size() : 0;
      if (vols)
        for (auto& v : *vols) volBytes += duBytes(e->paths().volumeData(v.name));
      auto unused = e->unusedVolumes();
      rows.push_back({"Images", std::to_string(imgCount), "-", human(imgBytes)});
      rows.push_back({"Containers", std::to_string(recs ? recs->size() : 0),
                      std::to_string(active), human(ctrBytes)});
      rows.push_back({"Local Volumes", std::to_string(volCount),
                      std::to_string(volCount - (unused ? unused->size() : 0)), human(volBytes)});
      printTable(rows);
    });
  }
}

}  // namespace berth::cli

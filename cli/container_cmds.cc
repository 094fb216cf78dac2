// Container verbs: run create start stop kill restart rm ps logs exec inspect top stats port
// cp wait pause unpause rename. `volume`, `network` and `system` live in resource_cmds.cc.
// Each parses its flags, calls berth::engine::Engine and prints; exit codes are Docker's.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/container_util.h"
#include "common/fs.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/logs.h"
#include "engine/tty.h"
#include "image/store.h"

namespace berth::cli {
namespace {

using engine::Engine;
using nlohmann::json;
std::atomic<int> gPendingSignal{0};
std::atomic<bool> gResized{false};
void catchSignal(int sig) {
  if (sig == SIGWINCH) gResized = true;
  else gPendingSignal = sig;
}

// Forward SIGINT/SIGTERM/SIGHUP to the container while we wait in the foreground. With a
// pty (-t), our terminal is raw while stdin goes into it (-i), and SIGWINCH goes to the
// monitor, which reads our terminal's new size and gives it to the pty.
int waitForeground(Engine& e, UniqueFd& exitPipe, const std::string& id, bool tty,
                   bool interactive) {
  struct sigaction sa {};
  sa.sa_handler = catchSignal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  if (tty) ::sigaction(SIGWINCH, &sa, nullptr);
  engine::RawTerminal raw(tty && interactive ? 0 : -1);
  pid_t monitorPid = 0;
  if (tty)
    if (auto r = e.get(id)) monitorPid = r->monitorPid;
  std::string msg;
  char buf[64];
  for (;;) {
    ssize_t n = ::read(exitPipe.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      if (int s = gPendingSignal.exchange(0); s) (void)e.kill(id, s);
      if (gResized.exchange(false) && monitorPid > 0) ::kill(monitorPid, SIGWINCH);
      continue;
    }
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
    // "exit CODE UNHEALTHY\n": the init is gone; we finish the exit ourselves ("done") unless
    // the container may restart ("self": the monitor goes on and sends the code later).
    if (str::startsWith(msg, "exit ") && msg.find('\n') != std::string::npos) {
      auto parts = str::split(std::string(str::trim(msg)), ' ');
      int code = parts.size() > 1 ? static_cast<int>(str::parseI64(parts[1]).value_or(125)) : 125;
      bool unhealthy = parts.size() > 2 && parts[2] == "1";
      msg.clear();
      if (e.finishExit(id, code, unhealthy)) {
        (void)!::write(exitPipe.get(), "done\n", 5);
        return code;
      }
      (void)!::write(exitPipe.get(), "self\n", 5);
    }
  }
  if (auto c = str::parseI64(str::trim(msg)); c) return static_cast<int>(*c);
  auto r = e.get(id);
  return r ? r->exitCode : 125;
}

std::string shortCmd(const engine::Record& r) {
  std::string s;
  for (auto& a : r.config.args) s += (s.empty() ? "" : " ") + a;
  if (s.size() > 20) s = s.substr(0, 19) + "…";
  return "\"" + s + "\"";
}

std::string portsText(const engine::Record& r) {
  std::string s;
  for (auto& p : r.ports) s += (s.empty() ? "" : ", ") + network::formatMapping(p);
  return s;
}

std::string ago(int64_t ns) {
  int64_t s = (engine::nowNs() - ns) / 1000000000;
  if (s < 60) return std::to_string(s) + " seconds ago";
  if (s < 3600) return std::to_string(s / 60) + " minutes ago";
  if (s < 86400) return std::to_string(s / 3600) + " hours ago";
  return std::to_string(s / 86400) + " days ago";
}

// `-v a:/a busybox sh` must not read "busybox" and "sh" as more -v values: every repeatable
// option takes exactly one value per occurrence, as in Docker.
void oneValueEach(CLI::App* c) {
  for (auto* o : c->get_options())
    if (o->get_items_expected_max() > 1) o->allow_extra_args(false);
}

void addRunFlags(CLI::App* c, engine::RunFlags& f, std::shared_ptr<std::string> entry) {
  c->set_help_flag("--help", "print this help");  // -h is --hostname, as in Docker
  c->add_flag("-d,--detach", f.detach, "run in the background and print the container id");
  c->add_flag("-i,--interactive", f.interactive, "keep stdin open");
  c->add_flag("-t,--tty", f.tty, "allocate a pseudo-terminal (held by the container's monitor)");
  c->add_flag("--rm", f.rm, "remove the container when it exits");
  c->add_option("--name", f.name, "container name");
  c->add_option("-e,--env", f.env, "set an environment variable KEY=VALUE (or KEY)");
  c->add_option("--env-file", f.envFile, "read KEY=VALUE lines from a file");
  c->add_option("-p,--publish", f.publish, "publish [IP:][HOST[-HOST]:]CTR[-CTR][/tcp|udp]");
  c->add_flag("-P,--publish-all", f.publishAll, "publish every EXPOSEd port to a free port");
  c->add_option("-v,--volume", f.volumes,
                "bind HOST:CTR[:ro], named NAME:CTR[:ro,nocopy], or CTR (filled from the image)");
  c->add_option("--tmpfs", f.tmpfs, "mount a tmpfs PATH[:OPTIONS]");
  c->add_option("-w,--workdir", f.workdir, "working directory");
  c->add_option("-u,--user", f.user, "user[:group] (name or id)");
  c->add_option("--entrypoint", *entry, "override the image's entrypoint");
  c->add_option("-h,--hostname", f.hostname, "container host name");
  c->add_option("-m,--memory", f.memory, "memory limit (e.g. 512m)");
  c->add_option("--cpus", f.cpus, "CPU limit (e.g. 1.5)");
  c->add_option("--pids-limit", f.pidsLimit, "max processes (-1: unlimited)");
  c->add_flag("--read-only", f.readOnly, "read-only root file system");
  c->add_option("--cap-add", f.capAdd, "add a capability");
  c->add_option("--cap-drop", f.capDrop, "drop a capability");
  c->add_option("--security-opt", f.securityOpt,
                "no-new-privileges | seccomp=FILE | seccomp=unconfined");
  c->add_flag("--privileged", f.privileged, "all capabilities, no masked paths");
  c->add_option("--network,--net", f.network, "bridge | host | none | NAME");
  c->add_option("--network-alias", f.networkAliases, "extra name on the network");
  c->add_option("--restart", f.restart, "no | on-failure[:N] | always | unless-stopped");
  c->add_option("--health-cmd", f.healthCmd, "command to check health");
  c->add_option("--health-interval", f.healthInterval, "time between checks (30s)");
  c->add_option("--health-timeout", f.healthTimeout, "time one check may take (30s)");
  c->add_option("--health-retries", f.healthRetries, "failures before unhealthy (3)");
  c->add_option("--health-start-period", f.healthStartPeriod, "grace period (0s)");
  c->add_flag("--no-healthcheck", f.noHealthcheck, "disable the image's HEALTHCHECK");
  c->add_flag("--init", f.init, "run an init as PID 1 that reaps zombies");
  c->add_option("-l,--label", f.labels, "set a label KEY=VALUE");
  c->add_option("--stop-signal", f.stopSignal, "signal to stop the container (SIGTERM)");
  c->add_option("--stop-timeout", f.stopTimeout, "seconds to wait before SIGKILL (10)");
  c->add_option("--ulimit", f.ulimits, "NAME=SOFT[:HARD]");
  c->add_option("--log-opt", f.logOpts, "max-size=SIZE, max-file=N");
  oneValueEach(c);
  c->add_option("image", f.image, "image")->required();
  c->add_option("command", f.cmd, "command and arguments");
  c->positionals_at_end();
}

void registerRun(CLI::App& app, Globals& g, bool create) {
  auto f = std::make_shared<engine::RunFlags>();
  auto entry = std::make_shared<std::string>("\x01");
  auto* c = app.add_subcommand(create ? "create" : "run",
                               create ? "create a container" : "run a command in a new container");
  addRunFlags(c, *f, entry);
  c->callback([&g, f, entry, create] {
    if (*entry != "\x01") f->entrypoint = *entry;
    auto e = openEngine(g);
    if (!e) return;
    auto rec = e->create(*f);
    if (!rec) {
      g.exitCode = reportError(rec.error());
      return;
    }
    if (create) {
      std::printf("%s\n", rec->id.c_str());
      return;
    }
    engine::StartIo io;
    io.attach = !f->detach;
    io.interactive = f->interactive;
    UniqueFd exitPipe;
    int code = 125;
    auto st = e->start(rec->id, io, &exitPipe, &code);
    if (!st) {
      // Bad input leaves nothing behind: a container that could not start is removed.
      (void)e->remove(rec->id, true, true);
      reportError(st.error());
      g.exitCode = code;
      return;
    }
    if (f->detach) {
      std::printf("%s\n", rec->id.c_str());
      return;
    }
    g.exitCode = waitForeground(*e, exitPipe, rec->id, f->tty, f->interactive);
  });
}

void registerLifecycle(CLI::App& app, Globals& g) {
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto attach = std::make_shared<bool>(false);
    auto interactive = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("start", "start stopped containers");
    c->add_flag("-a,--attach", *attach, "attach output and wait for the exit code");
    c->add_flag("-i,--interactive", *interactive, "with -a: pass stdin to the container");
    c->add_option("containers", *refs)->required();
    c->callback([&g, refs, attach, interactive] {
      auto e = openEngine(g);
      if (!e) return;
      for (auto& ref : *refs) {
        engine::StartIo io;
        io.attach = *attach;
        io.interactive = *attach && *interactive;
        UniqueFd exitPipe;
        int code = 125;
        auto r = e->start(ref, io, &exitPipe, &code);
        if (!r) {
          reportError(r.error());
          g.exitCode = code;
          continue;
        }
        if (*attach) {
          auto rec = e->get(ref);
          g.exitCode = waitForeground(*e, exitPipe, rec ? rec->id : ref,
                                      rec && rec->config.tty, io.interactive);
        } else {
          std::printf("%s\n", ref.c_str());
        }
      }
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto t = std::make_shared<int>(-2);
    for (const char* verb : {"stop", "restart"}) {
      bool isStop = std::string(verb) == "stop";
      auto* c = app.add_subcommand(verb, isStop ? "stop running containers (signal, then SIGKILL)"
                                                : "restart containers");
      c->add_option("-t,--time", *t, "seconds to wait before SIGKILL");
      c->add_option("containers", *refs)->required();
      c->callback([&g, refs, t, isStop] {
        std::optional<int> timeout;
        if (*t != -2) timeout = *t;
        forEach(g, *refs, [&](Engine& e, const std::string& ref) -> Result<void> {
          auto r = isStop ? e.stop(ref, timeout) : e.restart(ref, timeout);
          if (!r) return fail(std::move(r.error()));
          std::printf("%s\n", ref.c_str());
          return {};
        });
      });
    }
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto sig = std::make_shared<std::string>("KILL");
    auto* c = app.add_subcommand("kill", "send a signal to containers");
    c->add_option("-s,--signal", *sig, "signal (KILL)");
    c->add_option("containers", *refs)->required();
    c->callback([&g, refs, sig] {
      auto s = engine::parseSignal(*sig);
      if (!s) {
        g.exitCode = reportError(s.error());
        return;
      }
      forEach(g, *refs, [&](Engine& e, const std::string& ref) -> Result<void> {
        BERTH_TRY(e.kill(ref, *s));
        std::printf("%s\n", ref.c_str());
        return {};
      });
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto vols = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("rm", "remove containers");
    c->add_flag("-f,--force", *force, "stop and remove running containers");
    c->add_flag("-v,--volumes", *vols, "remove anonymous volumes too");
    c->add_option("containers", *refs)->required();
    c->callback([&g, refs, force, vols] {
      forEach(g, *refs, [&](Engine& e, const std::string& ref) -> Result<void> {
        BERTH_TRY(e.remove(ref, *force, *vols));
        std::printf("%s\n", ref.c_str());
        return {};
      });
    });
  }
  for (const char* verb : {"pause", "unpause"}) {
    auto refs = std::make_shared<std::vector<std::string>>();
    bool p = std::string(verb) == "pause";
    auto* c = app.add_subcommand(verb, p ? "freeze containers" : "thaw containers");
    c->add_option("containers", *refs)->required();
    c->callback([&g, refs, p] {
      forEach(g, *refs, [&](Engine& e, const std::string& ref) -> Result<void> {
        auto r = p ? e.pause(ref) : e.unpause(ref);
        if (!r) return fail(std::move(r.error()));
        std::printf("%s\n", ref.c_str());
        return {};
      });
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand("wait", "wait for containers to stop; print exit codes");
    c->add_option("containers", *refs)->required();
    c->callback([&g, refs] {
      forEach(g, *refs, [&](Engine& e, const std::string& ref) -> Result<void> {
        BERTH_ASSIGN(int code, e.wait(ref));
        std::printf("%d\n", code);
        return {};
      });
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand("rename", "rename a container");
    c->add_option("names", *names, "CONTAINER NEW_NAME")->required()->expected(2);
    c->callback([&g, names] {
      auto e = openEngine(g);
      if (!e) return;
      if (auto r = e->rename((*names)[0], (*names)[1]); !r) g.exitCode = reportError(r.error());
    });
  }
}

void registerPs(CLI::App& app, Globals& g) {
  struct Opts {
    bool all = false, quiet = false, noTrunc = false;
    std::string format = "table";
    std::vector<std::string> filters;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("ps", "list containers");
  c->alias("ls");
  c->add_flag("-a,--all", o->all, "show all containers (default: running)");
  c->add_flag("-q,--quiet", o->quiet, "only ids");
  c->add_flag("--no-trunc", o->noTrunc, "full ids");
  c->add_option("--format", o->format, "table | json");
  c->add_option("-f,--filter", o->filters, "name=, id=, status=, label=, ancestor=, network=");
  c->callback([&g, o] {
    if (o->format != "table" && o->format != "json") {
      g.exitCode = reportError("invalid --format \"" + o->format + "\": use table or json");
      return;
    }
    for (auto& f : o->filters) {
      auto [k, v] = str::splitOnce(f, '=');
      if (!v || (k != "name" && k != "id" && k != "status" && k != "label" && k != "ancestor" &&
                 k != "network" && k != "health")) {
        g.exitCode = reportError("invalid --filter \"" + f + "\"");
        return;
      }
    }
    auto e = openEngine(g);
    if (!e) return;
    auto all = e->list();
    if (!all) {
      g.exitCode = reportError(all.error());
      return;
    }
    int64_t now = engine::nowNs();
    std::vector<engine::Record> shown;
    for (auto& r : *all) {
      bool statusFilter = false;
      bool ok = true;
      for (auto& f : o->filters) {
        auto [k, v] = str::splitOnce(f, '=');
        if (k == "name") ok = ok && r.name.find(*v) != std::string::npos;
        else if (k == "id") ok = ok && str::startsWith(r.id, *v);
        else if (k == "status") {
          statusFilter = true;
          ok = ok && engine::stateName(r.state) == *v;
        } else if (k == "ancestor") ok = ok && (r.image == *v || r.imageId == *v);
        else if (k == "health") ok = ok && r.health == *v;
        else if (k == "network") {
          bool on = r.config.network == *v;
          for (auto& a : r.networks) on = on || a.network == *v;
          ok = ok && on;
        } else if (k == "label") {
          auto [lk, lv] = str::splitOnce(*v, '=');
          auto it = r.config.labels.find(lk);
          ok = ok && it != r.config.labels.end() && (!lv || it->second == *lv);
        }
      }
      if (!o->all && !statusFilter && !r.lifecycle().isActive()) ok = false;
      if (ok) shown.push_back(std::move(r));
    }
    if (o->quiet) {
      std::string out;
      for (auto& r : shown) out += (o->noTrunc ? r.id : r.shortId()) + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      return;
    }
    if (o->format == "json") {
      json arr = json::array();
      for (auto& r : shown)
        arr.push_back({{"Id", r.id}, {"Names", r.name}, {"Image", r.image},
                       {"Command", r.config.args}, {"Created", engine::rfc3339(r.created)},
                       {"State", std::string(engine::stateName(r.state))},
                       {"Status", engine::statusText(r, now)}, {"Ports", portsText(r)},
                       {"Health", r.health}, {"ExitCode", r.exitCode},
                       {"Labels", r.config.labels}});
      std::printf("%s\n", arr.dump(2).c_str());
      return;
    }
    std::vector<std::vector<std::string>> rows = {
        {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
    for (auto& r : shown)
      rows.push_back({o->noTrunc ? r.id : r.shortId(), r.image, shortCmd(r), ago(r.created),
                      engine::statusText(r, now), portsText(r), r.name});
    printTable(rows);
  });
}

void registerLogsExec(CLI::App& app, Globals& g) {
  {
    struct Opts {
      bool follow = false, timestamps = false;
      std::string tail = "all", since, until, ref;
    };
    auto o = std::make_shared<Opts>();
    auto* c = app.add_subcommand("logs", "show a container's output");
    c->add_flag("-f,--follow", o->follow, "follow until the container stops");
    c->add_flag("-t,--timestamps", o->timestamps, "show timestamps");
    c->add_option("-n,--tail", o->tail, "lines from the end (all)");
    c->add_option("--since", o->since, "RFC 3339 time, unix seconds or duration (10m)");
    c->add_option("--until", o->until, "RFC 3339 time, unix seconds or duration");
    c->add_option("container", o->ref)->required();
    c->callback([&g, o] {
      engine::LogOptions lo;
      lo.follow = o->follow;
      lo.timestamps = o->timestamps;
      if (o->tail != "all") {
        auto n = str::parseI64(o->tail);
        if (!n) {
          g.exitCode = reportError("invalid --tail \"" + o->tail + "\"");
          return;
        }
        lo.tail = *n;
      }
      for (auto [txt, out] : {std::pair{&o->since, &lo.sinceNs}, std::pair{&o->until, &lo.untilNs}}) {
        if (txt->empty()) continue;
        auto v = engine::parseSince(*txt, engine::nowNs());
        if (!v) {
          g.exitCode = reportError(v.error());
          return;
        }
        *out = *v;
      }
      auto e = openEngine(g);
      if (!e) return;
      auto r = e->logs(o->ref, lo, [](const std::string& stream, const std::string& text) {
        FILE* f = stream == "stderr" ? stderr : stdout;
        std::fwrite(text.data(), 1, text.size(), f);
        std::fflush(f);
      });
      if (!r) g.exitCode = reportError(r.error());
    });
  }
  {
    auto req = std::make_shared<engine::ExecRequest>();
    auto ref = std::make_shared<std::string>();
    auto cmd = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand("exec", "run a command in a running container");
    c->add_flag("-i,--interactive", req->interactive, "keep stdin open");
    c->add_flag("-t,--tty", req->tty, "allocate a pseudo-terminal");
    c->add_flag("-d,--detach", req->detach, "run in the background");
    c->add_option("-e,--env", req->env, "KEY=VALUE");
    c->add_option("-u,--user", req->user, "user[:group]");
    c->add_option("-w,--workdir", req->workdir, "working directory");
    oneValueEach(c);
    c->add_option("container", *ref)->required();
    c->add_option("command", *cmd)->required();
    c->positionals_at_end();
    c->callback([&g, req, ref, cmd] {
      auto e = openEngine(g);
      if (!e) return;
      req->args = *cmd;
      auto r = e->exec(*ref, *req);
      if (!r) {
        g.exitCode = reportError(r.error());
        return;
      }
      if (!r->error.empty()) reportError(r->error);
      g.exitCode = r->exitCode;
    });
  }
}

void registerInfo(CLI::App& app, Globals& g) {
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto fmt = std::make_shared<std::string>();
    auto* c = app.add_subcommand("inspect", "show containers (or networks, volumes) as JSON");
    c->add_option("-f,--format", *fmt, "json (default)");
    c->add_option("objects", *refs)->required();
    c->callback([&g, refs] {
      auto e = openEngine(g);
      if (!e) return;
      std::vector<std::string> docs;
      for (auto& ref : *refs) {
        auto r = e->get(ref);
        if (r) {
          docs.push_back(e->inspectJson(*r));
          continue;
        }
        if (auto n = e->networks().get(ref); n) {
          docs.push_back(network::networkToJson(*n));
          continue;
        }
        g.exitCode = reportError(r.error());
      }
      std::string out = "[";
      for (size_t i = 0; i < docs.size(); ++i) out += (i ? ",\n" : "\n") + docs[i];
      out += "\n]\n";
      if (!docs.empty()) std::fwrite(out.data(), 1, out.size(), stdout);
    });
  }
  {
    auto ref = std::make_shared<std::string>();
    auto* c = app.add_subcommand("top", "processes of a container");
    c->add_option("container", *ref)->required();
    c->callback([&g, ref] {
      auto e = openEngine(g);
      if (!e) return;
      auto ps = e->top(*ref);
      if (!ps) {
        g.exitCode = reportError(ps.error());
        return;
      }
      std::vector<std::vector<std::string>> rows = {{"UID", "PID", "PPID", "TIME", "CMD"}};
      for (auto& p : *ps) {
        char t[32];
        int s = static_cast<int>(p.cpuSeconds);
        std::snprintf(t, sizeof t, "%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
        rows.push_back({std::to_string(p.uid), std::to_string(p.pid), std::to_string(p.ppid), t,
                        p.cmd});
      }
      printTable(rows);
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto noStream = std::make_shared<bool>(false);
    auto all = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("stats", "CPU, memory, pids and network of containers");
    c->add_flag("--no-stream", *noStream, "print once and exit");
    c->add_flag("-a,--all", *all, "include stopped containers");
    c->add_option("containers", *refs);
    c->callback([&g, refs, noStream, all] {
      auto e = openEngine(g);
      if (!e) return;
      for (int round = 0;; ++round) {
        std::vector<engine::Record> recs;
        if (refs->empty()) {
          auto l = e->list();
          if (!l) {
            g.exitCode = reportError(l.error());
            return;
          }
          for (auto& r : *l)
            if (*all || r.lifecycle().isActive()) recs.push_back(r);
        } else {
          for (auto& ref : *refs) {
            auto r = e->get(ref);
            if (!r) {
              g.exitCode = reportError(r.error());
              return;
            }
            recs.push_back(*r);
          }
        }
        std::vector<std::vector<std::string>> rows = {
            {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "PIDS"}};
        for (auto& r : recs) {
          auto s = e->stats(r, 500);
          if (!s) continue;
          char cpu[16], memp[16];
          std::snprintf(cpu, sizeof cpu, "%.2f%%", s->cpuPercent);
          std::snprintf(memp, sizeof memp, "%.2f%%",
                        s->memLimit ? 100.0 * s->memUsage / s->memLimit : 0.0);
          rows.push_back({r.shortId(), r.name, cpu, human(s->memUsage) + " / " + human(s->memLimit),
                          memp, human(s->netRx) + " / " + human(s->netTx),
                          std::to_string(s->pids)});
        }
        if (!*noStream) std::printf("\033[2J\033[H");
        printTable(rows);
        std::fflush(stdout);
        if (*noStream) return;
        ::sleep(1);
      }
    });
  }
  {
    auto ref = std::make_shared<std::string>();
    auto* c = app.add_subcommand("port", "published ports of a container");
    c->add_option("container", *ref)->required();
    c->callback([&g, ref] {
      auto e = openEngine(g);
      if (!e) return;
      auto r = e->get(*ref);
      if (!r) {
        g.exitCode = reportError(r.error());
        return;
      }
      for (auto& p : r->ports)
        std::printf("%u/%s -> %s:%u\n", p.containerPort, p.protocol.c_str(),
                    p.hostIp.empty() ? "0.0.0.0" : p.hostIp.c_str(), p.hostPort);
    });
  }
  {
    auto args = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand("cp", "copy files: cp CONTAINER:SRC DEST | cp SRC CONTAINER:DEST");
    c->add_option("paths", *args, "SRC DEST")->required()->expected(2);
    c->callback([&g, args] {
      auto e = openEngine(g);
      if (!e) return;
      if (auto r = e->copy((*args)[0], (*args)[1]); !r) g.exitCode = reportError(r.error());
    });
  }
}

}  // namespace

void registerContainerCommands(CLI::App& app, Globals& g) {
  registerRun(app, g, false);
  registerRun(app, g, true);
  registerLifecycle(app, g);
  registerPs(app, g);
  registerLogsExec(app, g);
  registerInfo(app, g);
  registerVolumes(app, g);
  registerNetworks(app, g);
  registerSystem(app, g);
}

}  // namespace berth::cli

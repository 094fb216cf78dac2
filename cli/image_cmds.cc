// berth images / rmi / tag / image inspect / image prune / history / import / save / load /
// pull / push / login / logout. No policy here: parse flags, call image/, print.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "image/archive.h"
#include "image/reference.h"
#include "image/registry.h"
#include "image/store.h"

namespace berth::cli {
namespace {

using image::Store;

std::string shortId(const std::string& id) {
  auto p = id.find(':');
  return (p == std::string::npos ? id : id.substr(p + 1)).substr(0, 12);
}

std::string humanSize(int64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

std::string humanAgo(const std::string& rfc) {
  struct tm tm{};
  if (rfc.empty() || !::strptime(rfc.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "N/A";
  time_t then = ::timegm(&tm);
  long d = static_cast<long>(::time(nullptr) - then);
  if (d < 0) d = 0;
  auto fmt = [](long n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
  };
  if (d < 60) return d < 2 ? "About a second ago" : fmt(d, "second");
  if (d < 3600) return fmt(d / 60, "minute");
  if (d < 86400) return fmt(d / 3600, "hour");
  if (d < 86400 * 14) return fmt(d / 86400, "day");
  if (d < 86400 * 60) return fmt(d / (86400 * 7), "week");
  if (d < 86400 * 365 * 2) return fmt(d / (86400 * 30), "month");
  return fmt(d / (86400 * 365), "year");
}

/// Open the store or report; nullptr on error (exit code already set).
std::unique_ptr<Store> openStore(Globals& g) {
  auto s = Store::open(g.root);
  if (!s) {
    g.exitCode = reportError(s.error());
    return nullptr;
  }
  return std::make_unique<Store>(std::move(*s));
}

nlohmann::json inspectJson(const image::Image& img, Store& store) {
  nlohmann::json j;
  j["Id"] = img.id;
  j["Digest"] = img.manifestDigest;
  j["RepoTags"] = img.names;
  nlohmann::json digests = nlohmann::json::array();
  for (auto& n : img.names) {
    auto r = image::parseReference(n);
    if (r) digests.push_back(r->name() + "@" + img.manifestDigest);
  }
  j["RepoDigests"] = digests;
  j["Created"] = img.config.created;
  j["Author"] = img.config.author;
  j["Architecture"] = img.config.architecture;
  j["Os"] = img.config.os;
  j["Size"] = img.size;
  auto cfgText = store.readBlob(img.id);
  auto cfg = cfgText ? nlohmann::json::parse(*cfgText, nullptr, false) : nlohmann::json();
  j["Config"] = cfg.is_object() && cfg.contains("config") ? cfg["config"] : nlohmann::json::object();
  j["RootFS"] = {{"Type", "layers"}, {"Layers", img.config.rootfs.diffIds}};
  nlohmann::json layers = nlohmann::json::array();
  for (auto& l : img.layers)
    layers.push_back({{"MediaType", l.mediaType}, {"Digest", l.digest}, {"Size", l.size}});
  j["Layers"] = layers;
  return j;
}

void cmdImages(Globals& g, bool all, const std::string& format, bool quiet, bool noTrunc) {
  auto store = openStore(g);
  if (!store) return;
  auto list = store->list();
  if (!list) {
    g.exitCode = reportError(list.error());
    return;
  }
  // Without -a, intermediate images (untagged parents of other images) are hidden, as in
  // Docker and podman.
  if (!all)
    list->erase(std::remove_if(list->begin(), list->end(), [](auto& s) { return s.intermediate; }),
                list->end());
  if (format == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& s : *list)
      arr.push_back({{"Id", s.id}, {"Digest", s.manifestDigest}, {"Names", s.names},
                     {"Created", s.created}, {"Size", s.size}, {"Intermediate", s.intermediate}});
    std::cout << arr.dump(2) << "\n";
    return;
  }
  std::string out;
  if (!quiet) out = "REPOSITORY                         TAG         IMAGE ID      CREATED         SIZE\n";
  char line[512];
  for (auto& s : *list) {
    std::string id = noTrunc ? s.id : shortId(s.id);
    if (quiet) {
      out += id + "\n";
      continue;
    }
    std::vector<std::pair<std::string, std::string>> rows;
    for (auto& n : s.names) {
      auto r = image::parseReference(n);
      if (r) rows.emplace_back(r->name(), r->tag.empty() ? "<none>" : r->tag);
    }
    if (rows.empty()) rows.emplace_back("<none>", "<none>");
    for (auto& [repo, tag] : rows) {
      std::snprintf(line, sizeof line, "%-34s %-11s %-13s %-15s %s\n", repo.c_str(), tag.c_str(),
                    id.c_str(), humanAgo(s.created).c_str(), humanSize(s.size).c_str());
      out += line;
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

std::string readPassword(bool fromStdin) {
  std::string pw;
  if (fromStdin) {
    std::getline(std::cin, pw);
    return pw;
  }
  std::fprintf(stderr, "Password: ");
  struct termios old{};
  bool tty = ::tcgetattr(0, &old) == 0;
  if (tty) {
    struct termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(0, TCSANOW, &t);
  }
  std::getline(std::cin, pw);
  if (tty) ::tcsetattr(0, TCSANOW, &old);
  std::fprintf(stderr, "\n");
  return pw;
}

struct RegistryFlags {
  bool tlsVerify = true;
  std::string authFile;
  bool quiet = false;
  void add(CLI::App* c) {
    c->add_option("--tls-verify", tlsVerify, "verify TLS (false also allows plain http)")
        ->default_str("true");
    c->add_option("--authfile", authFile, "credentials file (default <root>/auth.json)");
  }
  image::RegistryOptions opts(Globals& g) const {
    image::RegistryOptions o;
    o.tlsVerify = tlsVerify;
    o.authFile = authFile.empty() ? g.root + "/auth.json" : authFile;
    if (!quiet) o.progress = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
    return o;
  }
};

}  // namespace

void registerImageCommands(CLI::App& app, Globals& g) {
  // images / image ls
  struct ImagesArgs {
    bool all = false, quiet = false, noTrunc = false;
    std::string format;
  };
  auto ia = std::make_shared<ImagesArgs>();
  auto addImages = [&g, ia](CLI::App* c) {
    c->add_flag("-a,--all", ia->all, "show all images");
    c->add_flag("-q,--quiet", ia->quiet, "only ids");
    c->add_flag("--no-trunc", ia->noTrunc, "full ids");
    c->add_option("--format", ia->format, "json for machine output");
    c->callback([&g, ia] { cmdImages(g, ia->all, ia->format, ia->quiet, ia->noTrunc); });
  };
  addImages(app.add_subcommand("images", "list images"));
  auto* image = app.add_subcommand("image", "manage images");
  image->require_subcommand(1);
  addImages(image->add_subcommand("ls", "list images"));

  // rmi / image rm
  struct RmiArgs {
    bool force = false;
    std::vector<std::string> refs;
  };
  auto ra = std::make_shared<RmiArgs>();
  auto addRmi = [&g, ra](CLI::App* c) {
    c->add_flag("-f,--force", ra->force, "remove even if tagged many times or in use (untags)");
    c->add_option("IMAGE", ra->refs, "images")->required();
    c->callback([&g, ra] {
      auto store = openStore(g);
      if (!store) return;
      for (auto& r : ra->refs) {
        auto rep = store->remove(r, ra->force);
        if (!rep) {
          g.exitCode = reportError(rep.error());
          continue;
        }
        for (auto& u : rep->untagged) std::printf("Untagged: %s\n", u.c_str());
        for (auto& d : rep->deleted) std::printf("Deleted: %s\n", d.c_str());
      }
    });
  };
  addRmi(app.add_subcommand("rmi", "remove images"));
  addRmi(image->add_subcommand("rm", "remove images"));

  // tag
  auto tagArgs = std::make_shared<std::pair<std::string, std::string>>();
  auto addTag = [&g, tagArgs](CLI::App* c) {
    c->add_option("SOURCE", tagArgs->first)->required();
    c->add_option("TARGET", tagArgs->second)->required();
    c->callback([&g, tagArgs] {
      auto store = openStore(g);
      if (!store) return;
      if (auto r = store->tag(tagArgs->first, tagArgs->second); !r) g.exitCode = reportError(r.error());
    });
  };
  addTag(app.add_subcommand("tag", "give an image another name"));
  addTag(image->add_subcommand("tag", "give an image another name"));

  // image inspect
  auto insp = std::make_shared<std::vector<std::string>>();
  auto* inspect = image->add_subcommand("inspect", "show image details as JSON");
  inspect->add_option("IMAGE", *insp)->required();
  inspect->callback([&g, insp] {
    auto store = openStore(g);
    if (!store) return;
    nlohmann::json arr = nlohmann::json::array();
    for (auto& r : *insp) {
      auto img = store->resolve(r);
      if (!img) {
        g.exitCode = reportError(img.error());
        continue;
      }
      arr.push_back(inspectJson(*img, *store));
    }
    std::cout << arr.dump(4) << "\n";
  });

  // image prune
  auto pruneAll = std::make_shared<bool>(false);
  auto pruneForce = std::make_shared<bool>(false);
  auto* prune = image->add_subcommand("prune", "remove unused images");
  prune->add_flag("-a,--all", *pruneAll, "all images not used by a container");
  prune->add_flag("-f,--force", *pruneForce, "do not prompt (berth never prompts)");
  prune->callback([&g, pruneAll] {
    auto store = openStore(g);
    if (!store) return;
    auto rep = store->prune(*pruneAll);
    if (!rep) {
      g.exitCode = reportError(rep.error());
      return;
    }
    for (auto& u : rep->untagged) std::printf("Untagged: %s\n", u.c_str());
    for (auto& d : rep->deleted) std::printf("Deleted: %s\n", d.c_str());
  });

  // history
  auto histRef = std::make_shared<std::string>();
  auto addHistory = [&g, histRef](CLI::App* c) {
    c->add_option("IMAGE", *histRef)->required();
    c->callback([&g, histRef] {
      auto store = openStore(g);
      if (!store) return;
      auto img = store->resolve(*histRef);
      if (!img) {
        g.exitCode = reportError(img.error());
        return;
      }
      std::printf("%-14s %-16s %-50s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE");
      size_t layer = img->layers.size();
      auto& hs = img->config.history;
      for (size_t i = hs.size(); i-- > 0;) {
        std::string size = "0B";
        if (!hs[i].emptyLayer && layer > 0) size = humanSize(img->layers[--layer].size);
        std::string by = hs[i].createdBy.substr(0, 50);
        std::printf("%-14s %-16s %-50s %s\n", i + 1 == hs.size() ? shortId(img->id).c_str() : "<missing>",
                    humanAgo(hs[i].created).c_str(), by.c_str(), size.c_str());
      }
    });
  };
  addHistory(app.add_subcommand("history", "show the history of an image"));
  addHistory(image->add_subcommand("history", "show the history of an image"));

  // import
  auto imp = std::make_shared<std::pair<std::string, std::string>>();
  auto addImport = [&g, imp](CLI::App* c) {
    c->add_option("FILE", imp->first, "rootfs tarball (.tar, .tar.gz, .tar.zst)")->required();
    c->add_option("NAME", imp->second, "name[:tag]")->required();
    c->callback([&g, imp] {
      auto store = openStore(g);
      if (!store) return;
      auto img = store->importRootfs(imp->first, imp->second);
      if (!img) {
        g.exitCode = reportError(img.error());
        return;
      }
      std::printf("%s\n", img->id.c_str());
    });
  };
  addImport(app.add_subcommand("import", "make an image from a rootfs tarball"));
  addImport(image->add_subcommand("import", "make an image from a rootfs tarball"));

  // save
  struct SaveArgs {
    std::string out = "-", format = "oci-archive";
    std::vector<std::string> refs;
  };
  auto sa = std::make_shared<SaveArgs>();
  auto addSave = [&g, sa](CLI::App* c) {
    c->add_option("-o,--output", sa->out, "file (default stdout)");
    c->add_option("--format", sa->format, "oci-archive or docker-archive")->capture_default_str();
    c->add_option("IMAGE", sa->refs)->required();
    c->callback([&g, sa] {
      auto fmt = image::parseArchiveFormat(sa->format);
      if (!fmt) {
        g.exitCode = reportError(fmt.error());
        return;
      }
      if (sa->out == "-" && ::isatty(1)) {
        g.exitCode = reportError("refusing to write an archive to a terminal: use -o FILE");
        return;
      }
      auto store = openStore(g);
      if (!store) return;
      if (auto r = image::saveImages(*store, sa->refs, sa->out, *fmt); !r)
        g.exitCode = reportError(r.error());
    });
  };
  addSave(app.add_subcommand("save", "write images to an archive"));
  addSave(image->add_subcommand("save", "write images to an archive"));

  // load
  auto loadIn = std::make_shared<std::string>("-");
  auto addLoad = [&g, loadIn](CLI::App* c) {
    c->add_option("-i,--input", *loadIn, "archive file (default stdin)");
    c->callback([&g, loadIn] {
      auto store = openStore(g);
      if (!store) return;
      auto imgs = image::loadImages(*store, *loadIn);
      if (!imgs) {
        g.exitCode = reportError(imgs.error());
        return;
      }
      for (auto& i : *imgs) {
        if (i.names.empty()) std::printf("Loaded image: %s\n", i.id.c_str());
        for (auto& n : i.names) std::printf("Loaded image: %s\n", n.c_str());
      }
    });
  };
  addLoad(app.add_subcommand("load", "read images from an archive"));
  addLoad(image->add_subcommand("load", "read images from an archive"));

  // pull
  auto pullRef = std::make_shared<std::string>();
  auto pullFlags = std::make_shared<RegistryFlags>();
  auto addPull = [&g, pullRef, pullFlags](CLI::App* c) {
    c->add_option("IMAGE", *pullRef, "registry/repo[:tag|@digest]")->required();
    pullFlags->add(c);
    c->add_flag("-q,--quiet", pullFlags->quiet, "no progress");
    c->callback([&g, pullRef, pullFlags] {
      auto store = openStore(g);
      if (!store) return;
      auto img = image::pull(*store, *pullRef, pullFlags->opts(g));
      if (!img) {
        g.exitCode = reportError(img.error());
        return;
      }
      std::printf("%s\n", img->id.c_str());
    });
  };
  addPull(app.add_subcommand("pull", "pull an image from a registry"));
  addPull(image->add_subcommand("pull", "pull an image from a registry"));

  // push
  auto pushRefs = std::make_shared<std::vector<std::string>>();
  auto pushFlags = std::make_shared<RegistryFlags>();
  auto addPush = [&g, pushRefs, pushFlags](CLI::App* c) {
    c->add_option("IMAGE", *pushRefs, "IMAGE [DESTINATION]")->required()->expected(1, 2);
    pushFlags->add(c);
    c->add_flag("-q,--quiet", pushFlags->quiet, "no progress");
    c->callback([&g, pushRefs, pushFlags] {
      auto store = openStore(g);
      if (!store) return;
      std::string dest = pushRefs->size() > 1 ? (*pushRefs)[1] : (*pushRefs)[0];
      auto d = image::push(*store, (*pushRefs)[0], dest, pushFlags->opts(g));
      if (!d) {
        g.exitCode = reportError(d.error());
        return;
      }
      std::printf("%s\n", d->c_str());
    });
  };
  addPush(app.add_subcommand("push", "push an image to a registry"));
  addPush(image->add_subcommand("push", "push an image to a registry"));

  // login / logout
  struct LoginArgs {
    std::string registry, user, password;
    bool passwordStdin = false;
  };
  auto la = std::make_shared<LoginArgs>();
  auto loginFlags = std::make_shared<RegistryFlags>();
  auto* login = app.add_subcommand("login", "store credentials for a registry");
  login->add_option("REGISTRY", la->registry)->required();
  login->add_option("-u,--username", la->user)->required();
  login->add_option("-p,--password", la->password);
  login->add_flag("--password-stdin", la->passwordStdin, "read the password from stdin");
  loginFlags->add(login);
  login->callback([&g, la, loginFlags] {
    std::string pw = la->password.empty() ? readPassword(la->passwordStdin) : la->password;
    if (auto r = image::login(la->registry, la->user, pw, loginFlags->opts(g)); !r) {
      g.exitCode = reportError(r.error());
      return;
    }
    std::printf("Login Succeeded!\n");
  });
  auto logoutReg = std::make_shared<std::string>();
  auto logoutFlags = std::make_shared<RegistryFlags>();
  auto* logout = app.add_subcommand("logout", "forget credentials for a registry");
  logout->add_option("REGISTRY", *logoutReg)->required();
  logoutFlags->add(logout);
  logout->callback([&g, logoutReg, logoutFlags] {
    if (auto r = image::logout(*logoutReg, logoutFlags->opts(g)); !r) {
      g.exitCode = reportError(r.error());
      return;
    }
    std::printf("Removed login credentials for %s\n", logoutReg->c_str());
  });
}

}  // namespace berth::cli

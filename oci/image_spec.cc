#include "oci/image_spec.h"

#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

namespace berth::oci {

using nlohmann::json;

namespace {

/// Strict field readers: a wrong type is an error naming the field path; missing/null is fine.
struct Reader {
  const json& j;
  std::string path;  // e.g. "config"
  Error* err;

  std::string name(const char* key) const { return path.empty() ? key : path + "." + key; }
  const json* get(const char* key) const {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void bad(const char* key, const char* what) const {
    if (err->message().empty()) *err = Error(ErrorCode::kInvalidArgument, name(key) + ": " + what);
  }
  void str(const char* key, std::string& out) const {
    if (auto* v = get(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else bad(key, "not a string");
    }
  }
  void i64(const char* key, int64_t& out) const {
    if (auto* v = get(key)) {
      if (v->is_number_integer()) out = v->get<int64_t>();
      else bad(key, "not an integer");
    }
  }
  void boolean(const char* key, bool& out) const {
    if (auto* v = get(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else bad(key, "not a boolean");
    }
  }
  void strs(const char* key, std::vector<std::string>& out) const {
    if (auto* v = get(key)) {
      if (!v->is_array()) return bad(key, "not an array");
      for (auto& e : *v) {
        if (!e.is_string()) return bad(key, "not an array of strings");
        out.push_back(e.get<std::string>());
      }
    }
  }
  void strMap(const char* key, std::map<std::string, std::string>& out) const {
    if (auto* v = get(key)) {
      if (!v->is_object()) return bad(key, "not an object");
      for (auto& [k, e] : v->items()) {
        if (!e.is_string()) return bad(key, "not an object of strings");
        out[k] = e.get<std::string>();
      }
    }
  }
  /// {"80/tcp": {}} -> keys, sorted.
  void keySet(const char* key, std::vector<std::string>& out) const {
    if (auto* v = get(key)) {
      if (!v->is_object()) return bad(key, "not an object");
      for (auto& [k, e] : v->items()) out.push_back(k);
    }
  }
  Reader sub(const char* key) const {
    static const json kNull;
    auto* v = get(key);
    if (v && !v->is_object()) bad(key, "not an object");
    return Reader{v && v->is_object() ? *v : kNull, name(key), err};
  }
};

Result<json> parseJson(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(ErrorCode::kInvalidArgument, std::string(what) + ": invalid JSON");
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, std::string(what) + ": not a JSON object");
  return j;
}

Platform readPlatform(const Reader& r) {
  Platform p;
  r.str("architecture", p.architecture);
  r.str("os", p.os);
  r.str("variant", p.variant);
  r.str("os.version", p.osVersion);
  r.strs("os.features", p.osFeatures);
  return p;
}

Descriptor readDescriptor(const Reader& r) {
  Descriptor d;
  r.str("mediaType", d.mediaType);
  r.str("digest", d.digest);
  r.i64("size", d.size);
  r.strs("urls", d.urls);
  r.strMap("annotations", d.annotations);
  r.str("artifactType", d.artifactType);
  if (r.get("platform")) d.platform = readPlatform(r.sub("platform"));
  return d;
}

bool checkDescriptor(const Descriptor& d, const std::string& where, Error* err) {
  if (!err->message().empty()) return false;
  if (d.digest.empty() || d.digest.find(':') == std::string::npos) {
    *err = Error(ErrorCode::kInvalidArgument, where + ".digest: missing or malformed");
    return false;
  }
  if (d.size < 0) {
    *err = Error(ErrorCode::kInvalidArgument, where + ".size: negative");
    return false;
  }
  return true;
}

json platformJson(const Platform& p) {
  json j = json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.osVersion.empty()) j["os.version"] = p.osVersion;
  if (!p.osFeatures.empty()) j["os.features"] = p.osFeatures;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

json descriptorJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.mediaType;
  j["digest"] = d.digest;
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platformJson(*d.platform);
  if (!d.artifactType.empty()) j["artifactType"] = d.artifactType;
  return j;
}

json keySetJson(const std::vector<std::string>& keys) {
  json j = json::object();
  for (auto& k : keys) j[k] = json::object();
  return j;
}

void sortUnique(std::vector<std::string>& v) {
  std::set<std::string> s(v.begin(), v.end());
  v.assign(s.begin(), s.end());
}

}  // namespace

std::optional<Compression> layerCompression(std::string_view mt) {
  if (mt == media::kOciLayer || mt == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar")
    return Compression::kNone;
  if (mt == media::kOciLayerGzip || mt == media::kOciLayerNdGzip || mt == media::kDockerLayerGzip ||
      mt == media::kDockerLayerForeign)
    return Compression::kGzip;
  if (mt == media::kOciLayerZstd ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
    return Compression::kZstd;
  return std::nullopt;
}

bool isManifestMediaType(std::string_view mt) {
  return mt == media::kOciManifest || mt == media::kDockerManifest;
}
bool isIndexMediaType(std::string_view mt) {
  return mt == media::kOciIndex || mt == media::kDockerManifestList;
}

Platform hostPlatform() {
  Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
  p.variant = "v8";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__i386__)
  p.architecture = "386";
#elif defined(__powerpc64__)
  p.architecture = "ppc64le";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__riscv)
  p.architecture = "riscv64";
#else
  p.architecture = "unknown";
#endif
  return p;
}

bool platformMatches(const Platform& p, const Platform& host) {
  if (p.os != host.os || p.architecture != host.architecture) return false;
  if (!p.variant.empty() && !host.variant.empty() && p.variant != host.variant) return false;
  return true;
}

Result<ImageConfig> parseImageConfig(std::string_view text) {
  BERTH_ASSIGN(json j, parseJson(text, "image config"));
  Error err(0, "");
  Reader r{j, "", &err};
  ImageConfig c;
  r.str("created", c.created);
  r.str("author", c.author);
  r.str("architecture", c.architecture);
  r.str("os", c.os);
  r.str("variant", c.variant);
  Reader cc = r.sub("config");
  auto& k = c.config;
  cc.str("User", k.user);
  cc.keySet("ExposedPorts", k.exposedPorts);
  cc.strs("Env", k.env);
  cc.strs("Entrypoint", k.entrypoint);
  cc.strs("Cmd", k.cmd);
  cc.keySet("Volumes", k.volumes);
  cc.str("WorkingDir", k.workingDir);
  cc.strMap("Labels", k.labels);
  cc.str("StopSignal", k.stopSignal);
  cc.strs("Shell", k.shell);
  cc.strs("OnBuild", k.onBuild);
  cc.boolean("ArgsEscaped", k.argsEscaped);
  if (cc.get("Healthcheck")) {
    Reader h = cc.sub("Healthcheck");
    Healthcheck hc;
    h.strs("Test", hc.test);
    h.i64("Interval", hc.interval);
    h.i64("Timeout", hc.timeout);
    h.i64("StartPeriod", hc.startPeriod);
    int64_t retries = 0;
    h.i64("Retries", retries);
    hc.retries = static_cast<int>(retries);
    k.healthcheck = hc;
  }
  Reader rf = r.sub("rootfs");
  rf.str("type", c.rootfs.type);
  rf.strs("diff_ids", c.rootfs.diffIds);
  if (auto* hv = r.get("history")) {
    if (!hv->is_array()) {
      r.bad("history", "not an array");
    } else {
      for (auto& e : *hv) {
        if (!e.is_object()) {
          r.bad("history", "not an array of objects");
          break;
        }
        Reader hr{e, "history[]", &err};
        History h;
        hr.str("created", h.created);
        hr.str("created_by", h.createdBy);
        hr.str("author", h.author);
        hr.str("comment", h.comment);
        hr.boolean("empty_layer", h.emptyLayer);
        c.history.push_back(std::move(h));
      }
    }
  }
  if (!err.message().empty()) return fail(err.context("image config"));
  return c;
}

std::string toJson(const ImageConfig& c) {
  json j = json::object();
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.variant.empty()) j["variant"] = c.variant;
  json cc = json::object();
  auto& k = c.config;
  if (!k.user.empty()) cc["User"] = k.user;
  if (!k.exposedPorts.empty()) {
    auto v = k.exposedPorts;
    sortUnique(v);
    cc["ExposedPorts"] = keySetJson(v);
  }
  if (!k.env.empty()) cc["Env"] = k.env;
  if (!k.entrypoint.empty()) cc["Entrypoint"] = k.entrypoint;
  if (!k.cmd.empty()) cc["Cmd"] = k.cmd;
  if (!k.volumes.empty()) {
    auto v = k.volumes;
    sortUnique(v);
    cc["Volumes"] = keySetJson(v);
  }
  if (!k.workingDir.empty()) cc["WorkingDir"] = k.workingDir;
  if (!k.labels.empty()) cc["Labels"] = k.labels;
  if (!k.stopSignal.empty()) cc["StopSignal"] = k.stopSignal;
  if (!k.shell.empty()) cc["Shell"] = k.shell;
  if (!k.onBuild.empty()) cc["OnBuild"] = k.onBuild;
  if (k.argsEscaped) cc["ArgsEscaped"] = true;
  if (k.healthcheck) {
    json h = json::object();
    h["Test"] = k.healthcheck->test;
    if (k.healthcheck->interval) h["Interval"] = k.healthcheck->interval;
    if (k.healthcheck->timeout) h["Timeout"] = k.healthcheck->timeout;
    if (k.healthcheck->startPeriod) h["StartPeriod"] = k.healthcheck->startPeriod;
    if (k.healthcheck->retries) h["Retries"] = k.healthcheck->retries;
    cc["Healthcheck"] = h;
  }
  j["config"] = cc;
  j["rootfs"] = {{"type", c.rootfs.type.empty() ? "layers" : c.rootfs.type},
                 {"diff_ids", c.rootfs.diffIds}};
  if (!c.history.empty()) {
    json hs = json::array();
    for (auto& h : c.history) {
      json e = json::object();
      if (!h.created.empty()) e["created"] = h.created;
      if (!h.createdBy.empty()) e["created_by"] = h.createdBy;
      if (!h.author.empty()) e["author"] = h.author;
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.emptyLayer) e["empty_layer"] = true;
      hs.push_back(e);
    }
    j["history"] = hs;
  }
  return j.dump();
}

Result<Manifest> parseManifest(std::string_view text) {
  BERTH_ASSIGN(json j, parseJson(text, "manifest"));
  Error err(0, "");
  Reader r{j, "", &err};
  Manifest m;
  int64_t sv = 0;
  r.i64("schemaVersion", sv);
  m.schemaVersion = static_cast<int>(sv);
  r.str("mediaType", m.mediaType);
  r.str("artifactType", m.artifactType);
  r.strMap("annotations", m.annotations);
  if (!err.message().empty()) return fail(err.context("manifest"));
  if (m.schemaVersion != 2)
    return fail(ErrorCode::kUnsupported,
                "manifest: schemaVersion " + std::to_string(m.schemaVersion) + " not supported");
  if (!m.mediaType.empty() && !isManifestMediaType(m.mediaType))
    return fail(ErrorCode::kUnsupported, "manifest: unknown media type " + m.mediaType);
  if (!r.get("config")) return fail(ErrorCode::kInvalidArgument, "manifest: config: missing");
  m.config = readDescriptor(r.sub("config"));
  if (!checkDescriptor(m.config, "config", &err)) return fail(err.context("manifest"));
  if (auto* lv = r.get("layers")) {
    if (!lv->is_array()) return fail(ErrorCode::kInvalidArgument, "manifest: layers: not an array");
    for (auto& e : *lv) {
      if (!e.is_object())
        return fail(ErrorCode::kInvalidArgument, "manifest: layers: not an array of objects");
      Descriptor d = readDescriptor(Reader{e, "layers[]", &err});
      if (!checkDescriptor(d, "layers[]", &err)) return fail(err.context("manifest"));
      m.layers.push_back(std::move(d));
    }
  }
  return m;
}

std::string toJson(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = m.schemaVersion;
  if (!m.mediaType.empty()) j["mediaType"] = m.mediaType;
  if (!m.artifactType.empty()) j["artifactType"] = m.artifactType;
  j["config"] = descriptorJson(m.config);
  json ls = json::array();
  for (auto& l : m.layers) ls.push_back(descriptorJson(l));
  j["layers"] = ls;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j.dump();
}

Result<Index> parseIndex(std::string_view text) {
  BERTH_ASSIGN(json j, parseJson(text, "index"));
  Error err(0, "");
  Reader r{j, "", &err};
  Index idx;
  int64_t sv = 0;
  r.i64("schemaVersion", sv);
  idx.schemaVersion = static_cast<int>(sv);
  r.str("mediaType", idx.mediaType);
  r.strMap("annotations", idx.annotations);
  if (!err.message().empty()) return fail(err.context("index"));
  if (idx.schemaVersion != 2)
    return fail(ErrorCode::kUnsupported,
                "index: schemaVersion " + std::to_string(idx.schemaVersion) + " not supported");
  if (!idx.mediaType.empty() && !isIndexMediaType(idx.mediaType))
    return fail(ErrorCode::kUnsupported, "index: unknown media type " + idx.mediaType);
  if (auto* mv = r.get("manifests")) {
    if (!mv->is_array()) return fail(ErrorCode::kInvalidArgument, "index: manifests: not an array");
    for (auto& e : *mv) {
      if (!e.is_object())
        return fail(ErrorCode::kInvalidArgument, "index: manifests: not an array of objects");
      Descriptor d = readDescriptor(Reader{e, "manifests[]", &err});
      if (!checkDescriptor(d, "manifests[]", &err)) return fail(err.context("index"));
      idx.manifests.push_back(std::move(d));
    }
  }
  return idx;
}

std::string toJson(const Index& idx) {
  json j = json::object();
  j["schemaVersion"] = idx.schemaVersion;
  if (!idx.mediaType.empty()) j["mediaType"] = idx.mediaType;
  json ms = json::array();
  for (auto& d : idx.manifests) ms.push_back(descriptorJson(d));
  j["manifests"] = ms;
  if (!idx.annotations.empty()) j["annotations"] = idx.annotations;
  return j.dump();
}

Result<Descriptor> parseDescriptor(std::string_view text) {
  BERTH_ASSIGN(json j, parseJson(text, "descriptor"));
  Error err(0, "");
  Descriptor d = readDescriptor(Reader{j, "", &err});
  if (!checkDescriptor(d, "descriptor", &err)) return fail(err);
  return d;
}

std::string toJson(const Descriptor& d) { return descriptorJson(d).dump(); }

std::string sniffMediaType(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {};
  if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) return it->get<std::string>();
  if (j.contains("manifests")) return std::string(media::kOciIndex);
  if (j.contains("config") || j.contains("layers")) return std::string(media::kOciManifest);
  return {};
}

std::string nowRfc3339() {
  time_t t = ::time(nullptr);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace berth::oci

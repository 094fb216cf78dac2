#include "engine/record_store.h"

#include <sqlite3.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"

namespace berth::engine {
namespace {

using nlohmann::json;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image TEXT, image_id TEXT, config TEXT,
  state TEXT, pid INTEGER, pid_start INTEGER, monitor_pid INTEGER, monitor_start INTEGER,
  owner_pid INTEGER, owner_start INTEGER, exit_code INTEGER, created INTEGER, started INTEGER,
  finished INTEGER, restart_count INTEGER, health TEXT, health_failures INTEGER,
  health_log TEXT, networks TEXT, ports TEXT, stop_requested INTEGER, error TEXT);
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY, driver TEXT, created INTEGER, labels TEXT, anonymous INTEGER);
)";

constexpr const char* kCols =
    "id,name,image,image_id,config,state,pid,pid_start,monitor_pid,monitor_start,owner_pid,"
    "owner_start,exit_code,created,started,finished,restart_count,health,health_failures,"
    "health_log,networks,ports,stop_requested,error";

// RAII statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void i64(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  std::string col(int i) {
    auto p = sqlite3_column_text(s_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t coli(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

Error dbError(sqlite3* db, const std::string& what) {
  return Error(ErrorCode::kInternal, what + ": " + sqlite3_errmsg(db));
}

std::string portsToJson(const std::vector<network::PortMapping>& ps) {
  json a = json::array();
  for (auto& p : ps)
    a.push_back({{"hostIp", p.hostIp}, {"hostPort", p.hostPort},
                 {"containerPort", p.containerPort}, {"protocol", p.protocol}});
  return a.dump();
}
std::vector<network::PortMapping> portsFromJson(const std::string& s) {
  std::vector<network::PortMapping> out;
  auto a = json::parse(s, nullptr, false);
  if (!a.is_array()) return out;
  for (auto& p : a)
    out.push_back({p.value("hostIp", ""), p.value("hostPort", uint16_t{0}),
                   p.value("containerPort", uint16_t{0}), p.value("protocol", "tcp")});
  return out;
}

Result<Record> rowToRecord(Stmt& s) {
  Record r;
  r.id = s.col(0);
  r.name = s.col(1);
  r.image = s.col(2);
  r.imageId = s.col(3);
  BERTH_ASSIGN(r.config, configFromJson(s.col(4)));
  r.state = parseState(s.col(5)).value_or(State::kDead);
  r.pid = static_cast<pid_t>(s.coli(6));
  r.pidStart = static_cast<uint64_t>(s.coli(7));
  r.monitorPid = static_cast<pid_t>(s.coli(8));
  r.monitorStart = static_cast<uint64_t>(s.coli(9));
  r.ownerPid = static_cast<pid_t>(s.coli(10));
  r.ownerStart = static_cast<uint64_t>(s.coli(11));
  r.exitCode = static_cast<int>(s.coli(12));
  r.created = s.coli(13);
  r.started = s.coli(14);
  r.finished = s.coli(15);
  r.restartCount = static_cast<int>(s.coli(16));
  r.health = s.col(17);
  r.healthFailures = static_cast<int>(s.coli(18));
  r.healthLog = s.col(19);
  r.networks = network::attachmentsFromJson(s.col(20));
  r.ports = portsFromJson(s.col(21));
  r.stopRequested = s.coli(22) != 0;
  r.error = s.col(23);
  return r;
}

void bindRecord(Stmt& s, const Record& r) {
  s.text(1, r.id);
  s.text(2, r.name);
  s.text(3, r.image);
  s.text(4, r.imageId);
  s.text(5, configToJson(r.config));
  s.text(6, std::string(stateName(r.state)));
  s.i64(7, r.pid);
  s.i64(8, static_cast<int64_t>(r.pidStart));
  s.i64(9, r.monitorPid);
  s.i64(10, static_cast<int64_t>(r.monitorStart));
  s.i64(11, r.ownerPid);
  s.i64(12, static_cast<int64_t>(r.ownerStart));
  s.i64(13, r.exitCode);
  s.i64(14, r.created);
  s.i64(15, r.started);
  s.i64(16, r.finished);
  s.i64(17, r.restartCount);
  s.text(18, r.health);
  s.i64(19, r.healthFailures);
  s.text(20, r.healthLog);
  s.text(21, network::attachmentToJson(r.networks));
  s.text(22, portsToJson(r.ports));
  s.i64(23, r.stopRequested ? 1 : 0);
  s.text(24, r.error);
}

}  // namespace

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string rfc3339(int64_t ns) {
  if (ns <= 0) return "0001-01-01T00:00:00Z";
  time_t sec = static_cast<time_t>(ns / 1000000000);
  tm t;
  gmtime_r(&sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1000000000));
  return buf;
}

Result<std::unique_ptr<RecordStore>> RecordStore::open(const std::string& root) {
  BERTH_TRY(fs::mkdirs(root, 0711));
  sqlite3* db = nullptr;
  std::string path = root + "/engine.db";
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Error e = dbError(db, "open " + path);
    sqlite3_close(db);
    return fail(e);
  }
  std::unique_ptr<RecordStore> s(new RecordStore(db));
  sqlite3_busy_timeout(db, 10000);
  // Each berth command is a short process, usually the database's only connection: by default
  // SQLite would checkpoint and delete the WAL when it closes, and the next one would create
  // it again, with an fsync of the file and of the directory each time (~4 ms each here).
  // Keep the WAL and leave checkpoints to the automatic one. Durability is unchanged: commits
  // survive a crash of the process, as before.
  int persist = 1;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // WAL + synchronous=NORMAL: every commit is atomic and survives a process crash (kill -9);
  // only an OS crash may lose the last commits, never corrupt the file.
  // The first connection of every process rebuilds the WAL index by reading every frame in
  // the WAL, so a long WAL taxes every command: at SQLite's default checkpoint (1000 pages,
  // 4 MiB) a `run` read ~570 frames on open. A `run` writes ~10 pages; checkpointing every
  // 64 pages costs one checkpoint (two fsyncs) per ~6 runs and bounds that read to 64 frames.
  BERTH_TRY(s->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA wal_autocheckpoint=64;"));
  BERTH_TRY(s->exec(kSchema));
  return s;
}

RecordStore::~RecordStore() { sqlite3_close(db_); }

Result<void> RecordStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    return fail(ErrorCode::kInternal, std::string("engine db: ") + m);
  }
  return {};
}

Result<void> RecordStore::insert(const Record& r) {
  std::string sql = std::string("INSERT INTO containers(") + kCols +
                    ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return fail(dbError(db_, "prepare insert"));
  bindRecord(s, r);
  int rc = s.step();
  if (rc == SQLITE_CONSTRAINT) {
    auto holder = get(r.name);
    std::string hid = holder ? holder->shortId() : "?";
    return fail(ErrorCode::kAlreadyExists, "the container name \"" + r.name +
                                               "\" is already in use by container " + hid);
  }
  if (rc != SQLITE_DONE) return fail(dbError(db_, "insert container"));
  return {};
}

Result<Record> RecordStore::get(const std::string& ref) {
  if (ref.empty()) return fail(ErrorCode::kInvalidArgument, "empty container name");
  std::string sql = std::string("SELECT ") + kCols +
                    " FROM containers WHERE id=?1 OR name=?1 OR id LIKE ?2 ESCAPE '\\' LIMIT 3";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return fail(dbError(db_, "prepare get"));
  s.text(1, ref);
  bool hexish = ref.find_first_not_of("0123456789abcdef") == std::string::npos;
  s.text(2, hexish ? ref + "%" : std::string("\x01"));
  std::vector<Record> hits;
  while (s.step() == SQLITE_ROW) {
    BERTH_ASSIGN(auto r, rowToRecord(s));
    if (r.id == ref || r.name == ref) return r;  // exact match wins
    hits.push_back(std::move(r));
  }
  if (hits.size() == 1) return hits[0];
  if (hits.size() > 1)
    return fail(ErrorCode::kInvalidArgument, "container id prefix " + ref + " is ambiguous");
  return fail(ErrorCode::kNotFound, "No such container: " + ref);
}

Result<std::vector<Record>> RecordStore::list() {
  std::string sql = std::string("SELECT ") + kCols + " FROM containers ORDER BY created DESC";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return fail(dbError(db_, "prepare list"));
  std::vector<Record> out;
  while (s.step() == SQLITE_ROW) {
    BERTH_ASSIGN(auto r, rowToRecord(s));
    out.push_back(std::move(r));
  }
  return out;
}

Result<Record> RecordStore::modify(const std::string& id,
                                   const std::function<Result<void>(Record&)>& fn) {
  BERTH_TRY(exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<Record> {
    std::string sql = std::string("SELECT ") + kCols + " FROM containers WHERE id=?1";
    Record r;
    {
      Stmt s(db_, sql.c_str());
      s.text(1, id);
      if (s.step() != SQLITE_ROW) return fail(ErrorCode::kNotFound, "No such container: " + id);
      BERTH_ASSIGN(r, rowToRecord(s));
    }
    BERTH_TRY(fn(r));
    std::string up = std::string("REPLACE INTO containers(") + kCols +
                     ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    Stmt u(db_, up.c_str());
    bindRecord(u, r);
    if (u.step() != SQLITE_DONE) return fail(dbError(db_, "update container"));
    return r;
  };
  auto r = body();
  if (!r) {
    (void)exec("ROLLBACK");
    return r;
  }
  BERTH_TRY(exec("COMMIT"));
  return r;
}

Result<void> RecordStore::remove(const std::string& id) {
  Stmt s(db_, "DELETE FROM containers WHERE id=?1");
  s.text(1, id);
  if (s.step() != SQLITE_DONE) return fail(dbError(db_, "delete container"));
  return {};
}

Result<void> RecordStore::rename(const std::string& id, const std::string& newName) {
  Stmt s(db_, "UPDATE containers SET name=?2 WHERE id=?1");
  s.text(1, id);
  s.text(2, newName);
  int rc = s.step();
  if (rc == SQLITE_CONSTRAINT)
    return fail(ErrorCode::kAlreadyExists,
                "the container name \"" + newName + "\" is already in use");
  if (rc != SQLITE_DONE) return fail(dbError(db_, "rename container"));
  return {};
}

Result<void> RecordStore::insertVolume(const VolumeRecord& v) {
  Stmt s(db_, "INSERT INTO volumes(name,driver,created,labels,anonymous) VALUES(?,?,?,?,?)");
  s.text(1, v.name);
  s.text(2, v.driver);
  s.i64(3, v.created);
  s.text(4, json(v.labels).dump());
  s.i64(5, v.anonymous);
  int rc = s.step();
  if (rc == SQLITE_CONSTRAINT)
    return fail(ErrorCode::kAlreadyExists, "volume " + v.name + " already exists");
  if (rc != SQLITE_DONE) return fail(dbError(db_, "insert volume"));
  return {};
}

Result<VolumeRecord> RecordStore::getVolume(const std::string& name) {
  Stmt s(db_, "SELECT name,driver,created,labels,anonymous FROM volumes WHERE name=?1");
  s.text(1, name);
  if (s.step() != SQLITE_ROW) return fail(ErrorCode::kNotFound, "no such volume: " + name);
  VolumeRecord v;
  v.name = s.col(0);
  v.driver = s.col(1);
  v.created = s.coli(2);
  auto l = json::parse(s.col(3), nullptr, false);
  if (l.is_object()) v.labels = l.get<std::map<std::string, std::string>>();
  v.anonymous = s.coli(4) != 0;
  return v;
}

Result<std::vector<VolumeRecord>> RecordStore::listVolumes() {
  Stmt s(db_, "SELECT name FROM volumes ORDER BY name");
  std::vector<std::string> names;
  while (s.step() == SQLITE_ROW) names.push_back(s.col(0));
  std::vector<VolumeRecord> out;
  for (auto& n : names) {
    BERTH_ASSIGN(auto v, getVolume(n));
    out.push_back(std::move(v));
  }
  return out;
}

Result<void> RecordStore::removeVolume(const std::string& name) {
  Stmt s(db_, "DELETE FROM volumes WHERE name=?1");
  s.text(1, name);
  if (s.step() != SQLITE_DONE) return fail(dbError(db_, "delete volume"));
  return {};
}

}  // namespace berth::engine

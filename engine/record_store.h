#pragma once
/// RecordStore: container records and named volumes in SQLite (WAL) at <root>/engine.db.
/// Every change is one transaction; modify() is an atomic read-check-write (BEGIN IMMEDIATE),
/// which is how state transitions stay correct with many `berth` processes at once.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/record.h"

struct sqlite3;

namespace berth::engine {

struct VolumeRecord {
  std::string name;
  std::string driver = "local";
  int64_t created = 0;
  std::map<std::string, std::string> labels;
  bool anonymous = false;
};

class RecordStore {
 public:
  /// Open or create <root>/engine.db (creating <root>).
  static Result<std::unique_ptr<RecordStore>> open(const std::string& root);
  ~RecordStore();

  /// kAlreadyExists (naming the holder) if the name is taken.
  Result<void> insert(const Record& r);
  /// By full id, exact name, or unique id prefix. kNotFound: "No such container: REF".
  Result<Record> get(const std::string& ref);
  Result<std::vector<Record>> list();
  /// Atomically: read the record, let `fn` check and change it, write it back. If fn fails
  /// nothing is written and its error is returned.
  Result<Record> modify(const std::string& id, const std::function<Result<void>(Record&)>& fn);
  Result<void> remove(const std::string& id);
  /// Rename with the uniqueness check in the same transaction.
  Result<void> rename(const std::string& id, const std::string& newName);

  Result<void> insertVolume(const VolumeRecord& v);
  Result<VolumeRecord> getVolume(const std::string& name);
  Result<std::vector<VolumeRecord>> listVolumes();
  Result<void> removeVolume(const std::string& name);

 private:
  explicit RecordStore(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql);
  sqlite3* db_;
};

}  // namespace berth::engine

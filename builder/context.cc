#include "builder/context.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/digest.h"
#include "common/fs.h"
#include "common/strings.h"

namespace berth::build {
namespace {

constexpr int kMaxLinks = 40;

std::string joinRel(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

// A context entry from lstat(2) of `path` (its link target read for a symlink).
Result<ContextEntry> entryFromStat(const std::string& rel, const std::string& path,
                                   const struct stat& st) {
  ContextEntry e;
  e.rel = rel;
  e.mode = st.st_mode;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = static_cast<uint64_t>(st.st_size);
  e.rdev = st.st_rdev;
  if (S_ISLNK(st.st_mode)) {
    std::string buf(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return failErrno("readlink " + path);
    buf.resize(static_cast<size_t>(n));
    e.linkTarget = std::move(buf);
  }
  return e;
}

}  // namespace

Result<std::unique_ptr<SourceTree>> SourceTree::openContext(const std::string& dir,
                                                            IgnoreMatcher ignore) {
  if (!fs::isDir(dir))
    return fail(ErrorCode::kNotFound, "build context " + dir + ": not a directory");
  std::unique_ptr<SourceTree> t(new SourceTree(fs::clean(dir), std::move(ignore), true));
  BERTH_TRY(t->lstatEntry(""));
  BERTH_TRY(t->walk(""));
  return t;
}

Result<std::unique_ptr<SourceTree>> SourceTree::openRootfs(const std::string& dir) {
  if (!fs::isDir(dir)) return fail(ErrorCode::kNotFound, dir + ": not a directory");
  std::unique_ptr<SourceTree> t(new SourceTree(fs::clean(dir), IgnoreMatcher(), false));
  BERTH_TRY(t->lstatEntry(""));
  return t;
}

std::string SourceTree::hostPath(const ContextEntry& e) const {
  return e.rel.empty() ? root_ : root_ + "/" + e.rel;
}

const ContextEntry* SourceTree::find(std::string_view rel) const {
  auto it = entries_.find(std::string(rel));
  return it == entries_.end() ? nullptr : &it->second;
}

Result<const ContextEntry*> SourceTree::lstatEntry(const std::string& rel) {
  if (auto* e = find(rel)) return e;
  if (isContext_ && !rel.empty()) return static_cast<const ContextEntry*>(nullptr);
  std::string path = rel.empty() ? root_ : root_ + "/" + rel;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return static_cast<const ContextEntry*>(nullptr);
    return failErrno("lstat " + path);
  }
  BERTH_ASSIGN(ContextEntry e, entryFromStat(rel, path, st));
  auto [it, _] = entries_.emplace(rel, std::move(e));
  return &it->second;
}

Result<void> SourceTree::walk(const std::string& rel) {
  if (walked_[rel]) return {};
  walked_[rel] = true;
  std::string path = rel.empty() ? root_ : root_ + "/" + rel;
  DIR* d = ::opendir(path.c_str());
  if (!d) return failErrno("open directory " + path);
  std::vector<std::string> names;
  while (auto* de = ::readdir(d)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  ::closedir(d);
  for (auto& name : names) {
    std::string child = joinRel(rel, name);
    bool excluded = isContext_ && ignore_.excluded(child);
    struct stat st;
    std::string cpath = root_ + "/" + child;
    if (::lstat(cpath.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // vanished while walking
      return failErrno("lstat " + cpath);
    }
    if (excluded && !(S_ISDIR(st.st_mode) && ignore_.hasExceptions())) continue;
    if (!excluded) {
      // Insert directly (lstatEntry refuses unknown context paths by design).
      BERTH_ASSIGN(ContextEntry e, entryFromStat(child, cpath, st));
      entries_.emplace(child, std::move(e));
    }
    if (S_ISDIR(st.st_mode) && (isContext_ || !excluded)) {
      BERTH_TRY(walk(child));
      if (excluded) {
        // An excluded directory survives only if an exception re-included something below.
        auto it = entries_.lower_bound(child + "/");
        if (it != entries_.end() && str::startsWith(it->first, child + "/")) {
          ContextEntry e;
          e.rel = child;
          e.mode = st.st_mode;
          e.uid = st.st_uid;
          e.gid = st.st_gid;
          entries_.emplace(child, std::move(e));
        }
      }
    }
  }
  return {};
}

Result<std::string> SourceTree::followLinks(const std::string& rel, std::string_view shown) {
  std::vector<std::string> todo = rel.empty() ? std::vector<std::string>{} : str::split(rel, '/');
  std::string cur;
  int links = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    std::string next = joinRel(cur, todo[i]);
    BERTH_ASSIGN(const ContextEntry* e, lstatEntry(next));
    if (!e)
      return fail(ErrorCode::kNotFound,
                  std::string(shown) + ": no such file or directory in the " +
                      (isContext_ ? "build context" : "source image"));
    if (!S_ISLNK(e->mode)) {
      cur = next;
      continue;
    }
    if (++links > kMaxLinks)
      return fail(ErrorCode::kInvalidArgument, std::string(shown) + ": too many symlinks");
    std::string target;
    if (!e->linkTarget.empty() && e->linkTarget[0] == '/') {
      if (isContext_)
        return fail(ErrorCode::kInvalidArgument,
                    std::string(shown) + ": symlink to " + e->linkTarget +
                        " points outside the build context");
      target = fs::clean(e->linkTarget).substr(1);
    } else {
      target = fs::clean(joinRel(cur, e->linkTarget));
      if (target == ".") target.clear();
      if (str::startsWith(target, "..")) {
        if (isContext_)
          return fail(ErrorCode::kInvalidArgument,
                      std::string(shown) + ": symlink to " + e->linkTarget +
                          " points outside the build context");
        target = fs::clean("/" + joinRel(cur, e->linkTarget)).substr(1);  // chroot: clamp at /
      }
    }
    // Restart from the root with the link target followed by the rest of the path.
    std::vector<std::string> rest(todo.begin() + static_cast<long>(i) + 1, todo.end());
    todo = target.empty() ? std::vector<std::string>{} : str::split(target, '/');
    todo.insert(todo.end(), rest.begin(), rest.end());
    cur.clear();
    i = static_cast<size_t>(-1);
  }
  return cur;
}

Result<std::vector<const ContextEntry*>> SourceTree::resolve(std::string_view source) {
  std::string s(source);
  while (!s.empty() && s[0] == '/') s.erase(0, 1);
  std::string cleaned = s.empty() ? std::string(".") : fs::clean(s);
  if (!fs::staysInside(cleaned))
    return fail(ErrorCode::kInvalidArgument,
                std::string(source) + " is outside the " +
                    (isContext_ ? "build context" : "source root"));
  if (cleaned == ".") cleaned.clear();
  std::vector<const ContextEntry*> out;
  if (!hasGlob(cleaned)) {
    BERTH_ASSIGN(std::string rel, followLinks(cleaned, source));
    out.push_back(find(rel));
    return out;
  }
  // Wildcards: expand component by component over the walked tree.
  std::vector<std::string> cands{""};
  for (auto& part : str::split(cleaned, '/')) {
    std::vector<std::string> next;
    for (auto& c : cands) {
      if (!hasGlob(part)) {
        std::string p = joinRel(c, part);
        BERTH_ASSIGN(const ContextEntry* e, lstatEntry(p));
        if (e) next.push_back(p);
        continue;
      }
      const ContextEntry* dir = find(c);
      if (!dir || !S_ISDIR(dir->mode)) continue;
      BERTH_TRY(walk(c));
      std::string prefix = c.empty() ? "" : c + "/";
      for (auto it = entries_.lower_bound(prefix);
           it != entries_.end() && str::startsWith(it->first, prefix); ++it) {
        std::string_view name = std::string_view(it->first).substr(prefix.size());
        if (name.empty() || name.find('/') != std::string_view::npos) continue;
        if (globMatch(part, name)) next.push_back(it->first);
      }
    }
    cands = std::move(next);
  }
  if (cands.empty())
    return fail(ErrorCode::kNotFound,
                std::string(source) + ": no source files match in the " +
                    (isContext_ ? "build context" : "source image"));
  for (auto& c : cands) {
    BERTH_ASSIGN(std::string rel, followLinks(c, c));
    out.push_back(find(rel));
  }
  return out;
}

Result<std::vector<const ContextEntry*>> SourceTree::subtree(const ContextEntry& top) {
  std::vector<const ContextEntry*> out{&top};
  if (!S_ISDIR(top.mode)) return out;
  BERTH_TRY(walk(top.rel));
  // Walk lazily-discovered subdirectories of a rootfs too.
  std::string prefix = top.rel.empty() ? "" : top.rel + "/";
  std::vector<std::string> dirs;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && str::startsWith(it->first, prefix); ++it)
    if (S_ISDIR(it->second.mode) && !it->first.empty() && !walked_[it->first])
      dirs.push_back(it->first);
  while (!dirs.empty()) {
    std::string d = dirs.back();
    dirs.pop_back();
    BERTH_TRY(walk(d));
    for (auto it = entries_.lower_bound(d + "/");
         it != entries_.end() && str::startsWith(it->first, d + "/"); ++it)
      if (S_ISDIR(it->second.mode) && !walked_[it->first]) dirs.push_back(it->first);
  }
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && str::startsWith(it->first, prefix); ++it)
    if (!it->first.empty() && it->first != top.rel) out.push_back(&it->second);
  return out;
}

Result<std::string> SourceTree::fileDigest(const ContextEntry& e) {
  if (!S_ISREG(e.mode)) return std::string();
  if (e.digest.empty()) {
    BERTH_ASSIGN(e.digest, sha256File(hostPath(e)));
  }
  return e.digest;
}

Result<std::string> SourceTree::checksum(const std::vector<const ContextEntry*>& sources) {
  Sha256 h;
  for (const auto* top : sources) {
    BERTH_ASSIGN(auto all, subtree(*top));
    h.update("source\0", 7);
    h.update(top->rel);
    for (const auto* e : all) {
      std::string line = e->rel + '\0' + std::to_string(e->mode) + '\0' + std::to_string(e->uid) +
                         ':' + std::to_string(e->gid) + '\0';
      if (S_ISREG(e->mode)) {
        BERTH_ASSIGN(std::string d, fileDigest(*e));
        line += d;
      } else if (S_ISLNK(e->mode)) {
        line += e->linkTarget;
      } else if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
        line += std::to_string(e->rdev);
      }
      line += '\n';
      h.update(line);
    }
  }
  return "sha256:" + h.hexDigest();
}

}  // namespace berth::build

#include "cli/container_util.h"

#include <algorithm>
#include <cstdio>

namespace berth::cli {

using engine::Engine;

std::unique_ptr<Engine> openEngine(Globals& g) {
  auto e = Engine::open(g.root, g.runroot);
  if (!e) {
    g.exitCode = reportError(e.error());
    return nullptr;
  }
  return std::move(*e);
}

std::string human(int64_t b) {
  char buf[32];
  if (b >= (1LL << 30)) std::snprintf(buf, sizeof buf, "%.2fGiB", b / double(1LL << 30));
  else if (b >= (1LL << 20)) std::snprintf(buf, sizeof buf, "%.2fMiB", b / double(1LL << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.2fKiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%lldB", static_cast<long long>(b));
  return buf;
}

void printTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> w(rows[0].size(), 0);
  for (auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::string out;
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 3, ' ');
    }
    out += line + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace berth::cli

#include "network/hosts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "common/strings.h"
#include "common/unique_fd.h"

namespace berth::network {

std::string renderHosts(const std::vector<HostEntry>& self, const std::vector<HostEntry>& peers) {
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "# berth: the lines below are rewritten when containers join or leave a network\n";
  auto line = [&](const HostEntry& e) {
    if (e.ip.empty() || e.names.empty()) return;
    out += e.ip;
    out += '\t';
    for (size_t i = 0; i < e.names.size(); ++i) {
      if (i) out += ' ';
      out += e.names[i];
    }
    out += '\n';
  };
  for (auto& e : self) line(e);
  auto sorted = peers;
  std::sort(sorted.begin(), sorted.end(),
            [](const HostEntry& a, const HostEntry& b) { return a.ip < b.ip; });
  for (auto& e : sorted) line(e);
  return out;
}

std::string renderResolvConf(const std::string& host) {
  std::istringstream in(host);
  std::string line, out;
  for (; std::getline(in, line);) {
    auto t = str::trim(line);
    if (str::startsWith(t, "nameserver")) {
      auto addr = std::string(str::trim(t.substr(10)));
      if (str::startsWith(addr, "127.") || addr == "::1") continue;
    }
    out += line;
    out += '\n';
  }
  return out;
}

Result<void> rewriteInPlace(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return failErrno("open " + path);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failErrno("write " + path);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace berth::network

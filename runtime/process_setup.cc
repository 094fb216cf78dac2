// Process attributes: capabilities, user, rlimits, console, fds, PATH lookup.
#include "runtime/process_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "common/strings.h"
#include "common/unique_fd.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace berth::runtime {
namespace {

const char* const kCapNames[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
constexpr int kNumCaps = sizeof(kCapNames) / sizeof(kCapNames[0]);

int lastCap() {
  static int last = [] {
    int v = kNumCaps - 1;
    if (auto fd = UniqueFd(::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC))) {
      char buf[16] = {};
      if (::read(fd.get(), buf, sizeof buf - 1) > 0) v = std::atoi(buf);
    }
    return v;
  }();
  return last;
}

struct RlimitName {
  const char* name;
  int resource;
};
const RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

Result<uint64_t> capMask(const std::vector<std::string>& names, const char* set) {
  uint64_t m = 0;
  for (const auto& n : names) {
    int c = capFromName(n);
    if (c < 0)
      return fail(ErrorCode::kInvalidArgument,
                  std::string("process.capabilities.") + set + ": unknown capability \"" + n + "\"");
    if (c <= lastCap()) m |= 1ULL << c;
  }
  return m;
}

}  // namespace

int capFromName(std::string_view name) {
  std::string up = str::toLower(name);
  for (auto& ch : up) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (!str::startsWith(up, "CAP_")) up = "CAP_" + up;
  for (int i = 0; i < kNumCaps; ++i)
    if (up == kCapNames[i]) return i;
  return -1;
}

const std::vector<std::string>& allCapNames() {
  static std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < kNumCaps && i <= lastCap(); ++i) v.emplace_back(kCapNames[i]);
    return v;
  }();
  return names;
}

Result<CapSets> parseCaps(const std::optional<oci::Capabilities>& caps) {
  CapSets s;
  if (!caps) return s;
  BERTH_ASSIGN(s.bounding, capMask(caps->bounding, "bounding"));
  BERTH_ASSIGN(s.effective, capMask(caps->effective, "effective"));
  BERTH_ASSIGN(s.inheritable, capMask(caps->inheritable, "inheritable"));
  BERTH_ASSIGN(s.permitted, capMask(caps->permitted, "permitted"));
  BERTH_ASSIGN(s.ambient, capMask(caps->ambient, "ambient"));
  return s;
}

Result<std::vector<ParsedRlimit>> parseRlimits(const std::vector<oci::Rlimit>& rl) {
  std::vector<ParsedRlimit> out;
  for (const auto& r : rl) {
    int res = -1;
    for (const auto& k : kRlimits)
      if (r.type == k.name) res = k.resource;
    if (res < 0)
      return fail(ErrorCode::kInvalidArgument, "process.rlimits: unknown type \"" + r.type + "\"");
    if (r.soft > r.hard)
      return fail(ErrorCode::kInvalidArgument, "process.rlimits: " + r.type + ": soft > hard");
    out.push_back({res, r.soft, r.hard});
  }
  return out;
}

Result<void> applyRlimits(const std::vector<ParsedRlimit>& rl) {
  for (const auto& r : rl) {
    struct rlimit l {r.soft, r.hard};
    if (::setrlimit(r.resource, &l) < 0) {
      const char* name = "?";
      for (const auto& k : kRlimits)
        if (k.resource == r.resource) name = k.name;
      return failErrno(std::string("setrlimit ") + name + " " + std::to_string(r.soft) + ":" +
                       std::to_string(r.hard));
    }
  }
  return {};
}

Result<void> applyUserAndCaps(const oci::User& user, const CapSets& caps, bool setGroups) {
  for (int c = 0; c <= lastCap(); ++c)
    if (!(caps.bounding & (1ULL << c)) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
        errno != EINVAL)
      return failErrno("drop bounding capability " + std::to_string(c));
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return failErrno("prctl keepcaps");
  if (setGroups) {
    std::vector<gid_t> g(user.additionalGids.begin(), user.additionalGids.end());
    if (::setgroups(g.size(), g.data()) < 0) return failErrno("setgroups");
  }
  if (::syscall(SYS_setresgid, user.gid, user.gid, user.gid) < 0)
    return failErrno("setgid " + std::to_string(user.gid));
  if (::syscall(SYS_setresuid, user.uid, user.uid, user.uid) < 0)
    return failErrno("setuid " + std::to_string(user.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return failErrno("prctl keepcaps");
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) < 0) return failErrno("capset");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c <= lastCap(); ++c)
    if ((caps.ambient & (1ULL << c)) &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      return failErrno("raise ambient capability " + std::string(kCapNames[c]));
  return {};
}

Result<void> sendFd(int sock, int fd, const std::string& name) {
  struct msghdr msg {};
  std::string payload = name.empty() ? std::string("fd") : name;
  struct iovec iov {payload.data(), payload.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) return failErrno("send fd over socket");
  return {};
}

Result<int> recvFd(int sock) {
  struct msghdr msg {};
  char data[256];
  struct iovec iov {data, sizeof data};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return failErrno("receive fd");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return fail(ErrorCode::kInternal, "no fd received");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

Result<int> connectUnix(const std::string& path) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return fail(ErrorCode::kInvalidArgument, "socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return failErrno("socket");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return failErrno("connect " + path);
  return s.release();
}

Result<void> setupConsole(int socketFd, const std::optional<oci::ConsoleSize>& size) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return failErrno("open /dev/ptmx");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) return failErrno("unlock pty");
  int n = 0;
  if (::ioctl(master.get(), TIOCGPTN, &n) < 0) return failErrno("pty number");
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return failErrno("open pty peer");
  if (size && size->height && size->width) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(size->height);
    ws.ws_col = static_cast<unsigned short>(size->width);
    ::ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  BERTH_TRY(sendFd(socketFd, master.get(), "/dev/pts/" + std::to_string(n)));
  master.reset();
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return failErrno("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave.get(), i) < 0) return failErrno("dup2 pty");
  return {};
}

Result<void> setupStdio(int in, int out, int err) {
  int fds[3] = {in, out, err};
  // Move sources above 2 first so dup2 onto 0..2 cannot clobber a later source.
  for (int i = 0; i < 3; ++i)
    if (fds[i] >= 0 && fds[i] <= 2 && fds[i] != i) {
      fds[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (fds[i] < 0) return failErrno("dup stdio");
    }
  for (int i = 0; i < 3; ++i)
    if (fds[i] >= 0 && fds[i] != i && ::dup2(fds[i], i) < 0) return failErrno("dup2 stdio");
  return {};
}

void cloexecFrom(int from) {
  if (::syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = from; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

Result<std::string> findExecutable(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) return fail(ErrorCode::kInvalidArgument, "process.args: empty");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) < 0) return failErrno("exec " + name);
    return name;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (str::startsWith(e, "PATH=")) path = e.substr(5);
  int lastErr = ENOENT;
  for (const auto& dir : str::split(path, ':')) {
    std::string p = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(p.c_str(), X_OK) == 0) return p;
      lastErr = EACCES;
    }
  }
  return failErrno("exec \"" + name + "\": executable file not found in $PATH", lastErr);
}

Result<void> enterCwd(const std::string& cwd) {
  if (cwd.empty() || cwd[0] != '/')
    return fail(ErrorCode::kInvalidArgument, "process.cwd \"" + cwd + "\": must be absolute");
  if (::chdir(cwd.c_str()) < 0) return failErrno("chdir " + cwd);
  char buf[4096];
  // A cwd reached through a leaked host fd shows as "(unreachable)/..." or fails.
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
    return fail(ErrorCode::kInvalidArgument, "process.cwd \"" + cwd + "\": outside the container");
  return {};
}

}  // namespace berth::runtime

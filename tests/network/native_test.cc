// Integration tests of the in-process CNI plugins (root, real kernel): a netns attached to a
// berth network and detached again, with everything the plugins make checked on the way in
// and checked gone on the way out; traffic only to loopback and to the test's own netns.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "network/cni.h"
#include "network/host_local.h"
#include "network/netns.h"
#include "network/network.h"
#include "network/ports.h"

namespace berth::network {
namespace {

using nlohmann::json;

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

int countLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto& l : str::split(text, '\n'))
    if (l.find(needle) != std::string::npos) ++n;
  return n;
}

// Lines naming `token` whole: not as the start of a longer name or address (the chains of
// bridge berth1 are not those of berth10, nor is 10.88.0.2 a prefix match of 10.88.0.25),
// so that other networks on the host do not count.
int countToken(const std::string& text, const std::string& token) {
  int n = 0;
  for (auto& l : str::split(text, '\n')) {
    for (size_t at = l.find(token); at != std::string::npos; at = l.find(token, at + 1)) {
      size_t end = at + token.size();
      if (end == l.size() || (!std::isalnum(static_cast<unsigned char>(l[end])) && l[end] != '.')) {
        ++n;
        break;
      }
    }
  }
  return n;
}

// A TCP listener inside the netns at `ns` (the socket keeps its netns).
UniqueFd listenIn(const std::string& ns, uint16_t port) {
  UniqueFd out;
  auto r = inNetns(ns, [&]() -> Result<void> {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return failErrno("bind");
    if (::listen(s.get(), 8) < 0) return failErrno("listen");
    out = std::move(s);
    return {};
  });
  EXPECT_TRUE(r) << r.error().message();
  return out;
}

// Connects to ip:port and checks the listener accepts it (and sees the peer address).
bool reaches(const std::string& ip, uint16_t port, int listener, std::string* peer = nullptr) {
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  timeval tv{2, 0};
  ::setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return false;
  sockaddr_in from{};
  socklen_t len = sizeof from;
  UniqueFd acc(::accept4(listener, reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC));
  if (!acc) return false;
  if (peer) {
    char b[INET_ADDRSTRLEN];
    *peer = ::inet_ntop(AF_INET, &from.sin_addr, b, sizeof b);
  }
  return true;
}

// A non-loopback IPv4 address of the host, if any.
std::string otherHostAddress() {
  ifaddrs* ifs = nullptr;
  std::string out;
  if (::getifaddrs(&ifs) != 0) return out;
  for (auto* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    std::string name = i->ifa_name;
    if (name == "lo" || str::startsWith(name, "berth") || str::startsWith(name, "cni") ||
        str::startsWith(name, "docker") || str::startsWith(name, "podman"))
      continue;
    char b[INET_ADDRSTRLEN];
    out = ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, b, sizeof b);
    break;
  }
  ::freeifaddrs(ifs);
  return out;
}

class NativeCni : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!fs::exists("/usr/sbin/iptables-restore")) GTEST_SKIP() << "needs iptables";
    t_ = *fs::makeTempDir("/tmp", "berth-native-it-");
    ASSERT_TRUE(fs::mkdirs(t_ + "/root"));
    store_ = std::make_unique<NetworkStore>(t_ + "/root", t_ + "/run",
                                            makeNativePluginExec(t_ + "/run/cni", nullptr));
    auto n = store_->create("it" + str::randomHex(3), "", false, {});
    ASSERT_TRUE(n) << n.error().message();
    net_ = *n;
  }
  void TearDown() override {
    for (auto& ns : netns_) (void)removeNetns(ns);
    if (store_) (void)store_->remove(net_.name);
    (void)fs::removeAll(t_);
  }
  std::string newNetns(const std::string& id) {
    std::string p = t_ + "/run/netns/" + id;
    auto r = createNetns(p);
    EXPECT_TRUE(r) << r.error().message();
    netns_.push_back(p);
    return p;
  }
  std::string leaseDir() { return store_->ipamDir() + "/" + net_.name; }
  std::string t_;
  std::unique_ptr<NetworkStore> store_;
  NetworkInfo net_;
  std::vector<std::string> netns_;
};

TEST_F(NativeCni, AttachDetachLeavesNothing) {
  std::string before = sh("iptables-save");
  std::string id = str::randomHex(32);
  std::string ns = newNetns(id);
  uint16_t hostPort = *pickFreePort("tcp", "");
  std::vector<PortMapping> ports = {{"", hostPort, 8080, "tcp"}};
  auto a = store_->attach(net_, id, ns, "eth0", ports);
  ASSERT_TRUE(a) << a.error().message();
  auto res = json::parse(a->result);
  ASSERT_EQ(res["interfaces"].size(), 3u);
  EXPECT_EQ(res["interfaces"][0]["name"], net_.bridge);
  std::string hostVeth = res["interfaces"][1]["name"];
  EXPECT_TRUE(str::startsWith(hostVeth, "veth"));
  EXPECT_EQ(hostVeth.size(), 12u);
  EXPECT_EQ(res["interfaces"][2]["sandbox"], ns);
  EXPECT_EQ(res["ips"][0]["interface"], 2);
  EXPECT_EQ(res["ips"][0]["gateway"], net_.gateway);
  EXPECT_EQ(a->mac.size(), 17u);

  // Host side: enslaved to the bridge, hairpin on, up; bridge has the gateway address.
  EXPECT_EQ(*fs::readFile("/sys/class/net/" + hostVeth + "/brport/hairpin_mode"), "1\n");
  EXPECT_NE(sh("readlink /sys/class/net/" + hostVeth + "/master").find(net_.bridge),
            std::string::npos);
  EXPECT_NE(sh("ip -4 addr show dev " + net_.bridge).find(net_.gateway + "/24"), std::string::npos);
  EXPECT_EQ(*fs::readFile("/proc/sys/net/ipv4/ip_forward"), "1\n");
  // Netns side: address, MAC from the kernel, default route, lo up.
  std::string addr = sh("nsenter --net=" + ns + " ip -4 -o addr show");
  EXPECT_NE(addr.find("eth0    inet " + a->ip + "/24"), std::string::npos) << addr;
  EXPECT_NE(addr.find("lo    inet 127.0.0.1/8"), std::string::npos) << addr;
  EXPECT_NE(sh("nsenter --net=" + ns + " ip link show eth0").find(a->mac), std::string::npos);
  EXPECT_NE(
      sh("nsenter --net=" + ns + " ip -4 route").find("default via " + net_.gateway + " dev eth0"),
      std::string::npos);
  // Lease in host-local's format.
  EXPECT_EQ(*fs::readFile(leaseDir() + "/" + a->ip), id + "\r\neth0");
  // Rules: per network and per container.
  std::string rules = sh("iptables-save");
  EXPECT_EQ(countToken(rules, "-j BERTH-NAT-" + net_.bridge), 1) << rules;
  EXPECT_EQ(countToken(rules, "-j BERTH-FWD-" + net_.bridge), 1);
  EXPECT_EQ(countLines(rules, "--dport " + std::to_string(hostPort) + " -j DNAT --to-destination " +
                                  a->ip + ":8080"),
            1);

  // Traffic: the container's address directly, the published port on 127.0.0.1 (SNATed to
  // the bridge's address) and on another host address.
  UniqueFd l = listenIn(ns, 8080);
  ASSERT_TRUE(l);
  EXPECT_TRUE(reaches(a->ip, 8080, l.get()));
  std::string peer;
  EXPECT_TRUE(reaches("127.0.0.1", hostPort, l.get(), &peer));
  EXPECT_EQ(peer, net_.gateway);
  if (std::string other = otherHostAddress(); !other.empty()) {
    EXPECT_TRUE(reaches(other, hostPort, l.get())) << other;
  }

  // A second container on the network reaches the first.
  std::string id2 = str::randomHex(32);
  std::string ns2 = newNetns(id2);
  auto b = store_->attach(net_, id2, ns2, "eth0", {});
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_NE(b->ip, a->ip);
  bool fromPeer = false;
  ASSERT_TRUE(inNetns(ns2, [&]() -> Result<void> {
    fromPeer = reaches(a->ip, 8080, l.get(), &peer);
    return {};
  }));
  EXPECT_TRUE(fromPeer);
  EXPECT_EQ(peer, b->ip);
  // Rules are per network: the second container added none.
  std::string withSecond = sh("iptables-save");
  EXPECT_EQ(countToken(withSecond, net_.bridge), countToken(rules, net_.bridge)) << withSecond;
  EXPECT_EQ(countToken(withSecond, b->ip), 0) << withSecond;

  ASSERT_TRUE(store_->detach(net_, id, ns, *a, ports));
  ASSERT_TRUE(store_->detach(net_, id, ns, *a, ports));  // idempotent
  ASSERT_TRUE(store_->detach(net_, id2, ns2, *b, {}));
  EXPECT_FALSE(fs::exists("/sys/class/net/" + hostVeth));
  EXPECT_EQ(sh("nsenter --net=" + ns + " ip -o link show eth0 2>/dev/null"), "");
  EXPECT_FALSE(fs::exists(leaseDir() + "/" + a->ip));
  EXPECT_FALSE(fs::exists(leaseDir() + "/" + b->ip));
  rules = sh("iptables-save");
  EXPECT_EQ(countToken(rules, "--to-destination " + a->ip), 0);
  EXPECT_EQ(countLines(rules, "berth " + id.substr(0, 12)), 0) << rules;  // its port chains
  EXPECT_EQ(countToken(rules, "-j BERTH-NAT-" + net_.bridge), 1) << rules;  // kept with the network

  ASSERT_TRUE(store_->remove(net_.name));
  std::string br = net_.bridge;
  net_.name = "gone";
  rules = sh("iptables-save");
  EXPECT_EQ(countToken(rules, "BERTH-NAT-" + br), 0);
  EXPECT_EQ(countToken(rules, "BERTH-FWD-" + br), 0);
  EXPECT_FALSE(fs::exists("/sys/class/net/" + br));
  EXPECT_FALSE(fs::exists(t_ + "/run/cni/rules/" + br + ".masq"));
  // Whatever the test added to iptables is gone (other tests may add rules meanwhile, so
  // compare only berth's chains of this network).
  EXPECT_EQ(countToken(before, br), countToken(rules, br));
}

TEST_F(NativeCni, DelAfterCrashWithoutResultOrNetns) {
  std::string id = str::randomHex(32);
  std::string ns = newNetns(id);
  uint16_t hostPort = *pickFreePort("tcp", "");
  std::vector<PortMapping> ports = {{"127.0.0.1", hostPort, 80, "tcp"}};
  auto a = store_->attach(net_, id, ns, "eth0", ports);
  ASSERT_TRUE(a) << a.error().message();
  std::string hostVeth = json::parse(a->result)["interfaces"][1]["name"];
  // The record only had the intent (no result), and the netns is already gone.
  ASSERT_TRUE(removeNetns(ns));
  Attachment intent;
  intent.network = net_.name;
  intent.ifname = "eth0";
  ASSERT_TRUE(store_->detach(net_, id, ns, intent, ports));
  EXPECT_FALSE(fs::exists(leaseDir() + "/" + a->ip));
  EXPECT_EQ(countLines(sh("iptables-save"), "--to-destination " + a->ip), 0);
  // The veth died with its netns (no process held it).
  for (int i = 0; i < 50 && fs::exists("/sys/class/net/" + hostVeth); ++i) ::usleep(20000);
  EXPECT_FALSE(fs::exists("/sys/class/net/" + hostVeth));
}

TEST_F(NativeCni, LeasesSharedWithDebianHostLocal) {
  if (!fs::exists("/usr/lib/cni/host-local")) GTEST_SKIP() << "needs containernetworking-plugins";
  auto real = makeRealPluginExec();
  auto native = makeNativePluginExec(t_ + "/run/cni", nullptr);
  json conf = json::parse(store_->conflist(net_));
  json plugin = conf["plugins"][0];
  json ipamConf = {{"cniVersion", "1.0.0"}, {"name", net_.name}, {"ipam", plugin["ipam"]}};
  std::string ns = newNetns("ipam");  // host-local never enters it, but wants it set
  auto env = [&](const char* cmd, const std::string& id) {
    return std::map<std::string, std::string>{
        {"CNI_COMMAND", cmd},   {"CNI_CONTAINERID", id},      {"CNI_NETNS", ns},
        {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/usr/lib/cni"}, {"CNI_ARGS", ""}};
  };
  auto r1 = real->run("host-local", env("ADD", "goid"), ipamConf.dump());
  ASSERT_TRUE(r1) << r1.error().message();
  auto n1 = native->run("host-local", env("ADD", "nativeid"), ipamConf.dump());
  ASSERT_TRUE(n1) << n1.error().message();
  std::string goIp = json::parse(*r1)["ips"][0]["address"];
  std::string natIp = json::parse(*n1)["ips"][0]["address"];
  EXPECT_NE(goIp, natIp);  // native skipped the Go plugin's lease and continued after it
  auto r2 = real->run("host-local", env("ADD", "goid2"), ipamConf.dump());
  ASSERT_TRUE(r2);
  std::string go2 = json::parse(*r2)["ips"][0]["address"];
  EXPECT_NE(go2, natIp);  // and the other way round
  // Each releases the other's lease.
  ASSERT_TRUE(native->run("host-local", env("DEL", "goid"), ipamConf.dump()));
  ASSERT_TRUE(real->run("host-local", env("DEL", "nativeid"), ipamConf.dump()));
  ASSERT_TRUE(native->run("host-local", env("DEL", "goid2"), ipamConf.dump()));
  auto left = fs::listDir(leaseDir());
  ASSERT_TRUE(left);
  for (auto& f : *left) EXPECT_TRUE(f == "lock" || str::startsWith(f, "last_reserved_ip")) << f;
}

}  // namespace
}  // namespace berth::network

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "network/cni.h"
#include "network/hosts.h"
#include "network/network.h"
#include "network/ports.h"
#include "network/subnet.h"

namespace berth::network {
namespace {

using nlohmann::json;

TEST(Ports, Forms) {
  auto a = parsePublish("8080:80");
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].hostPort, 8080);
  EXPECT_EQ((*a)[0].containerPort, 80);
  EXPECT_EQ((*a)[0].protocol, "tcp");
  auto b = parsePublish("127.0.0.1:9000-9002:90-92/udp");
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size(), 3u);
  EXPECT_EQ((*b)[2].hostPort, 9002);
  EXPECT_EQ((*b)[2].containerPort, 92);
  EXPECT_EQ((*b)[2].hostIp, "127.0.0.1");
  EXPECT_EQ((*b)[2].protocol, "udp");
  auto c = parsePublish("80");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0].hostPort, 0);
  auto d = parsePublish("127.0.0.1::80");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)[0].hostPort, 0);
  auto e = parsePublish("[::1]:8080:80");
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)[0].hostIp, "::1");
  EXPECT_EQ(formatMapping((*a)[0]), "0.0.0.0:8080->80/tcp");
}

TEST(Ports, Malformed) {
  for (const char* s : {"", "abc", "8080:", "70000:80", "1.2.3:80:80", "80/sctp", "9000-9001:80",
                        "a:b:c:d", "0:80", "90-80:90-80"}) {
    auto r = parsePublish(s);
    EXPECT_FALSE(r) << s;
    if (!r) {
      EXPECT_TRUE(r.error().is(ErrorCode::kInvalidArgument));
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  }
}

TEST(Subnet, ParseAndPick) {
  auto s = parseSubnet("10.89.3.0/24");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->str(), "10.89.3.0/24");
  EXPECT_EQ(s->hostAddr(1), "10.89.3.1");
  EXPECT_FALSE(parseSubnet("10.89.3.1/24"));
  EXPECT_FALSE(parseSubnet("10.89.3.0"));
  EXPECT_FALSE(parseSubnet("300.1.1.0/24"));
  std::vector<Subnet> taken = {*parseSubnet("10.89.0.0/24"), *parseSubnet("10.89.1.0/24")};
  auto p = pickSubnet(taken);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->str(), "10.89.2.0/24");
  taken.push_back(*parseSubnet("10.89.0.0/16"));
  EXPECT_EQ(pickSubnet(taken)->str(), "10.90.0.0/24");
}

TEST(Hosts, RenderAndResolv) {
  auto h = renderHosts({{"10.89.0.2", {"web", "abc123"}}},
                       {{"10.89.0.9", {"db"}}, {"10.89.0.3", {"cache"}}});
  EXPECT_NE(h.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(h.find("10.89.0.2\tweb abc123\n"), std::string::npos);
  EXPECT_LT(h.find("cache"), h.find("db"));
  auto r = renderResolvConf("nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch x\n");
  EXPECT_EQ(r, "nameserver 192.0.2.1\nsearch x\n");
}

// Records calls; fails the plugin named in failOn.
struct FakeExec : PluginExec {
  std::vector<std::pair<std::string, json>> calls;
  std::string failOn;
  Result<std::string> run(const std::string& plugin, const std::map<std::string, std::string>& env,
                          const std::string& in) override {
    json c = json::parse(in);
    c["_cmd"] = env.at("CNI_COMMAND");
    c["_netns"] = env.at("CNI_NETNS");
    calls.emplace_back(plugin, c);
    if (plugin == failOn && env.at("CNI_COMMAND") == "ADD")
      return fail(ErrorCode::kInternal, "boom");
    if (plugin == "bridge")
      return json{{"cniVersion", "1.0.0"},
                  {"interfaces", {{{"name", "eth0"}, {"mac", "aa:bb"}, {"sandbox", "/x"}}}},
                  {"ips", {{{"address", "10.89.0.5/24"}, {"gateway", "10.89.0.1"}}}}}
          .dump();
    return c.contains("prevResult") ? c["prevResult"].dump() : std::string("{}");
  }
};

class NetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = *fs::makeTempDir("/tmp", "berth-net-test-");
    auto f = std::make_unique<FakeExec>();
    fake_ = f.get();
    store_ = std::make_unique<NetworkStore>(root_ + "/root", root_ + "/run", std::move(f));
    ASSERT_TRUE(fs::mkdirs(root_ + "/root"));
  }
  void TearDown() override {
    if (store_) {
      if (auto l = store_->list(); l)
        for (auto& n : *l)
          if (n.name != kDefaultNetwork) (void)store_->remove(n.name);
    }
    (void)fs::removeAll(root_);  // the registry entry of "bridge" goes with the root (gc)
  }
  std::string root_;
  FakeExec* fake_ = nullptr;
  std::unique_ptr<NetworkStore> store_;
};

TEST_F(NetStoreTest, CreateAttachDetach) {
  auto n = store_->create("app-net", "", false, {{"a", "b"}});
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_FALSE(n->bridge.empty());
  EXPECT_LE(n->bridge.size(), 15u);
  EXPECT_TRUE(store_->create("app-net", "", false, {}).error().is(ErrorCode::kAlreadyExists));
  EXPECT_FALSE(store_->create("bad name!", "", false, {}));
  EXPECT_FALSE(store_->create("other", n->subnet, false, {}));  // overlap
  auto got = store_->get(n->id.substr(0, 6));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "app-net");

  std::vector<PortMapping> ports = {{"", 8080, 80, "tcp"}};
  auto a = store_->attach(*n, "cid1", "/run/x/netns", "eth0", ports);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->ip, "10.89.0.5");
  EXPECT_EQ(a->mac, "aa:bb");
  ASSERT_EQ(fake_->calls.size(), 3u);
  EXPECT_EQ(fake_->calls[0].first, "bridge");
  EXPECT_EQ(fake_->calls[1].first, "portmap");
  EXPECT_EQ(fake_->calls[1].second["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_TRUE(fake_->calls[1].second.contains("prevResult"));
  EXPECT_EQ(fake_->calls[2].first, "firewall");
  fake_->calls.clear();
  ASSERT_TRUE(store_->detach(*n, "cid1", "/run/x/netns", *a, ports));
  ASSERT_EQ(fake_->calls.size(), 3u);
  EXPECT_EQ(fake_->calls[0].first, "firewall");
  EXPECT_EQ(fake_->calls[2].first, "bridge");
  EXPECT_EQ(fake_->calls[2].second["_cmd"], "DEL");
  EXPECT_EQ(fake_->calls[2].second["prevResult"]["ips"][0]["address"], "10.89.0.5/24");
}

TEST_F(NetStoreTest, FailedAddIsUndone) {
  auto n = store_->ensureDefault();
  ASSERT_TRUE(n);
  fake_->failOn = "firewall";
  auto a = store_->attach(*n, "cid2", "/ns", "eth0", {});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("boom"), std::string::npos);
  // bridge ADD, firewall ADD (failed), then DEL of firewall and bridge; no portmap.
  std::vector<std::string> seq;
  for (auto& c : fake_->calls) seq.push_back(c.first + ":" + c.second["_cmd"].get<std::string>());
  EXPECT_EQ(seq, (std::vector<std::string>{"bridge:ADD", "firewall:ADD", "firewall:DEL",
                                           "bridge:DEL"}));
}

TEST(Attachments, JsonRoundTrip) {
  Attachment a{"net", "eth0", "10.0.0.2", "aa", "10.0.0.1", {"x"}, "{}"};
  auto back = attachmentsFromJson(attachmentToJson({a}));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].ip, "10.0.0.2");
  EXPECT_EQ(back[0].aliases, std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace berth::network

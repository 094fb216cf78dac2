#include "oci/runtime_spec.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

const char* kMinimal = R"({
  "ociVersion": "1.0.2",
  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 1, "gid": 2, "additionalGids": [3]}},
  "root": {"path": "rootfs", "readonly": true},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}]}
})";

std::string errorOf(std::string_view json) {
  auto r = parseSpec(json);
  EXPECT_FALSE(r.has_value()) << json;
  return r ? "" : r.error().message();
}

TEST(RuntimeSpec, ParsesMinimal) {
  auto s = parseSpec(kMinimal);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s->process->user.uid, 1u);
  EXPECT_EQ(s->process->user.additionalGids, std::vector<uint32_t>{3});
  EXPECT_TRUE(s->root->readonly);
  ASSERT_EQ(s->linux->namespaces.size(), 3u);
  EXPECT_EQ(s->linux->namespaces[2].type, NamespaceType::kNetwork);
  EXPECT_EQ(s->linux->namespaces[2].path, "/proc/1/ns/net");
  EXPECT_TRUE(s->linux->hasNamespace(NamespaceType::kMount));
  EXPECT_FALSE(s->linux->hasNamespace(NamespaceType::kUser));
}

TEST(RuntimeSpec, ErrorsNameTheField) {
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.2","process":{"args":["sh",3]}})"),
            "config.json: process.args[1]: expected string");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"bogus"}]}})"),
            "config.json: linux.namespaces[0].type: unknown namespace type \"bogus\"");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.2","process":{"user":{"uid":-1}}})"),
            "config.json: process.user.uid: expected non-negative integer");
  EXPECT_EQ(errorOf(R"({"process":{}})"), "config.json: ociVersion: required");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1","root":{"path":7}})"), "config.json: root.path: expected string");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1","hooks":{"prestart":[{"path":"rel"}]}})"),
            "config.json: hooks.prestart[0].path: must be an absolute path");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1","linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}})"),
            "config.json: linux.namespaces[1]: duplicate namespace type");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1","process":{"oomScoreAdj":5000}})"),
            "config.json: process.oomScoreAdj: must be in [-1000, 1000]");
}

TEST(RuntimeSpec, MalformedAndTruncatedJson) {
  EXPECT_NE(errorOf(R"({"ociVersion": "1.0.2", "process": {)").find("invalid JSON"), std::string::npos);
  EXPECT_NE(errorOf("").find("invalid JSON"), std::string::npos);
  EXPECT_EQ(errorOf("[]"), "config.json: expected object");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1","mounts":{}})"), "config.json: mounts: expected array");
}

TEST(RuntimeSpec, UnknownKeysAreIgnored) {
  auto s = parseSpec(R"({"ociVersion":"1.0.2","vm":{"x":1},"process":{"args":["a"],"future":true}})");
  ASSERT_TRUE(s) << s.error().message();
}

TEST(RuntimeSpec, DefaultSpecRoundTrips) {
  Spec d = defaultSpec();
  std::string j = toJson(d);
  auto back = parseSpec(j);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(toJson(*back), j);
  EXPECT_EQ(back->process->args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(back->process->terminal);
  EXPECT_EQ(back->root->path, "rootfs");
  EXPECT_EQ(back->mounts.size(), 7u);
  EXPECT_EQ(back->linux->namespaces.size(), 5u);
  EXPECT_FALSE(back->linux->hasNamespace(NamespaceType::kUser));
  EXPECT_EQ(back->process->capabilities->bounding.size(), 3u);
  EXPECT_FALSE(back->linux->maskedPaths.empty());
  ASSERT_EQ(back->linux->resources->devices.size(), 1u);
  EXPECT_FALSE(back->linux->resources->devices[0].allow);
}

TEST(RuntimeSpec, FullResourcesAndSeccompRoundTrip) {
  const char* text = R"({"ociVersion":"1.0.2",
    "hooks":{"poststop":[{"path":"/bin/true","args":["true"],"timeout":3}]},
    "linux":{"resources":{"memory":{"limit":1048576,"swap":2097152},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
             "pids":{"limit":10},"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":100}]},
             "hugepageLimits":[{"pageSize":"2MB","limit":0}],"unified":{"memory.high":"max"}},
             "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},
             "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
             "timeOffsets":{"monotonic":{"secs":5}}}})";
  auto s = parseSpec(text);
  ASSERT_TRUE(s) << s.error().message();
  const auto& r = *s->linux->resources;
  EXPECT_EQ(*r.memory->limit, 1048576);
  EXPECT_EQ(*r.cpu->shares, 512u);
  EXPECT_EQ(r.pids->limit, 10);
  EXPECT_EQ(r.blockIO->throttleReadBpsDevice[0].rate, 100u);
  EXPECT_EQ(r.unified.at("memory.high"), "max");
  EXPECT_EQ(s->linux->seccomp->syscalls[0].args[0].op, "SCMP_CMP_EQ");
  EXPECT_EQ(*s->hooks.poststop[0].timeout, 3);
  EXPECT_EQ(s->linux->timeOffsets.at("monotonic"), 5);
  auto again = parseSpec(toJson(*s));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(toJson(*again), toJson(*s));
}

TEST(RuntimeSpec, ProcessAndResourcesAlone) {
  auto p = parseProcess(R"({"args":["ls"],"env":["A=1"],"terminal":true})");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->terminal);
  auto bad = parseProcess(R"({"args":"ls"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "process.json: args: expected array of strings");
  auto r = parseResources(R"({"pids":{"limit":5}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pids->limit, 5);
}

TEST(RuntimeSpec, RootlessSpecHasUserNamespace) {
  Spec s = rootlessSpec(1000, 1000);
  EXPECT_TRUE(s.linux->hasNamespace(NamespaceType::kUser));
  EXPECT_FALSE(s.linux->hasNamespace(NamespaceType::kNetwork));
  EXPECT_EQ(s.linux->uidMappings[0].hostID, 1000u);
}

}  // namespace
}  // namespace berth::oci

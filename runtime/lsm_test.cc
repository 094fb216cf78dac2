// AppArmor / SELinux: mount labels in the plan, the exec attributes written, and rejection on
// hosts without the LSM (these machines have neither: see docs/design/runtime.md).
#include "runtime/lsm.h"

#include <gtest/gtest.h>

#include "common/fs.h"
#include "runtime/mount_plan.h"

namespace berth::runtime {
namespace {

TEST(Lsm, MountLabelOnTheFilesystemsTheRuntimeCreates) {
  oci::Spec s = oci::defaultSpec();
  s.linux->mountLabel = "system_u:object_r:container_file_t:s0:c1,c2";
  auto p = planMounts(s, "/r", false);
  ASSERT_TRUE(p) << p.error().message();
  int labelled = 0;
  for (auto& st : p->steps) {
    bool has = st.options.data.find("context=\"system_u:object_r:container_file_t:s0:c1,c2\"") !=
               std::string::npos;
    if (st.type == "tmpfs" || st.type == "devpts" || st.type == "mqueue") {
      EXPECT_TRUE(has) << st.target << ": " << st.options.data;
      ++labelled;
    } else {
      EXPECT_FALSE(has) << st.target;
    }
  }
  EXPECT_GE(labelled, 3);
}

TEST(Lsm, ExecAttributesAreWrittenWhereTheKernelReadsThem) {
  auto dir = fs::makeTempDir("/tmp", "berth-lsm-");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(fs::mkdirs(*dir + "/thread-self/attr/apparmor", 0755));
  ASSERT_TRUE(fs::writeFileAtomic(*dir + "/thread-self/attr/apparmor/exec", "", 0644));
  ASSERT_TRUE(fs::writeFileAtomic(*dir + "/thread-self/attr/exec", "", 0644));
  oci::Process proc;
  proc.apparmorProfile = "berth-default";
  ASSERT_TRUE(lsm::setExecAttributes(proc, *dir));
  EXPECT_EQ(*fs::readFile(*dir + "/thread-self/attr/apparmor/exec"), "exec berth-default");
  EXPECT_EQ(*fs::readFile(*dir + "/thread-self/attr/exec"), "");
  proc.apparmorProfile.clear();
  proc.selinuxLabel = "system_u:system_r:container_t:s0";
  ASSERT_TRUE(lsm::setExecAttributes(proc, *dir));
  EXPECT_EQ(*fs::readFile(*dir + "/thread-self/attr/exec"), "system_u:system_r:container_t:s0");
  // Older kernels: AppArmor reads the generic attr/exec.
  ASSERT_TRUE(fs::removeAll(*dir + "/thread-self/attr/apparmor"));
  ASSERT_TRUE(fs::writeFileAtomic(*dir + "/thread-self/attr/exec", "", 0644));
  proc = {};
  proc.apparmorProfile = "p2";
  ASSERT_TRUE(lsm::setExecAttributes(proc, *dir));
  EXPECT_EQ(*fs::readFile(*dir + "/thread-self/attr/exec"), "exec p2");
  // No attribute file at all: an error, never a silent unconfined run.
  ASSERT_TRUE(fs::removeAll(*dir + "/thread-self"));
  EXPECT_FALSE(lsm::setExecAttributes(proc, *dir));
  (void)fs::removeAll(*dir);
}

TEST(Lsm, RejectedWhereTheHostLacksIt) {
  oci::Spec s = oci::defaultSpec();
  s.process->apparmorProfile = "x";
  auto r = lsm::check(s);
  if (lsm::apparmorEnabled()) {
    EXPECT_TRUE(r);
  } else {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "process.apparmorProfile: AppArmor is not enabled on this host");
  }
  s.process->apparmorProfile.clear();
  s.linux->mountLabel = "a:b:c:s0";
  r = lsm::check(s);
  if (!lsm::selinuxEnabled()) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "linux.mountLabel: SELinux is not enabled on this host");
  }
  s.linux->mountLabel = "bad\"label";
  EXPECT_FALSE(lsm::check(s));
}

}  // namespace
}  // namespace berth::runtime

// The zk.writes probe against a real three-server ensemble (Apache ZooKeeper, or quorumd when
// FAULTLINE_QUORUMD is set): acknowledged writes are found on every server, a stopped
// server is named, a write lost behind the probe's back is named, and the writes are gone
// when the probe is.
#include <gtest/gtest.h>

#include "checks/zk_client.h"
#include "checks/zk_role_probes.h"
#include "services/testing.h"

namespace faultline {
namespace {

using testing::InventoryBuilder;
using testing::LocalContext;
using testing::WaitFor;
using testing::ZkEnsemble;

constexpr int kBase = 22250;

class ZkWritesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterRoleProbes(); }
};

Inventory ThreeServers() {
  InventoryBuilder b;
  for (int i = 0; i < 3; ++i) {
    b.Host("zk" + std::to_string(i + 1), "zookeeper",
           {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", kBase + 3 * i}});
  }
  return b.Build();
}

std::unique_ptr<Probe> Make(const Inventory& inv, nlohmann::json params, Status* st) {
  ProbeSpec spec;
  spec.name = "zk.writes";
  spec.params = std::move(params);
  spec.mark.file = "drill.yaml";
  spec.mark.line = 7;
  spec.mark.column = 5;
  std::unique_ptr<Probe> probe;
  *st = ProbeRegistry::Global().Make(spec, inv, &probe);
  return probe;
}

TEST_F(ZkWritesTest, BadParametersNameTheSpot) {
  Inventory inv = ThreeServers();
  Status st;
  Make(inv, {{"path", "relative"}}, &st);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("drill.yaml:7:5"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("path 'relative'"), std::string::npos) << st.message();
  Make(inv, {{"every", "fast"}}, &st);
  EXPECT_NE(st.message().find("every 'fast'"), std::string::npos) << st.message();
  Make(inv, {{"evry", "1s"}}, &st);
  EXPECT_NE(st.message().find("evry"), std::string::npos) << st.message();
}

TEST_F(ZkWritesTest, AcknowledgedWritesOnEveryServerAndTheLossOfOneIsNamed) {
  ZkEnsemble zk(3, kBase);
  ASSERT_TRUE(zk.WaitReady());
  Inventory inv = ThreeServers();
  LocalContext ctx(inv);
  Status st;
  auto probe = Make(inv, {{"every", "100ms"}, {"path", "/fl-writes-test"}}, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto sample = [&] {
    testing::Sleep(120);
    return probe->Sample(ctx, std::chrono::milliseconds(4000));
  };

  // Writes acknowledged, all present everywhere.
  Observation o;
  for (int i = 0; i < 10; ++i) o = sample();
  EXPECT_EQ(o.value, true) << o.error;

  ZkClient::Options opts;
  opts.connect = zk.Connect();
  ZkClient admin(opts);
  ASSERT_TRUE(admin.Connect(std::chrono::milliseconds(10000)).ok());
  std::vector<std::string> runs;
  ASSERT_EQ(admin.Children("/fl-writes-test", &runs), ZkError::kOk);
  ASSERT_EQ(runs.size(), 1u);
  const std::string parent = "/fl-writes-test/" + runs[0];
  std::vector<std::string> writes;
  ASSERT_EQ(admin.Children(parent, &writes), ZkError::kOk);
  EXPECT_GE(writes.size(), 5u);

  // One server stopped: named as not answering.
  zk.Stop(2);
  bool named = WaitFor([&] {
    o = sample();
    return o.value == false && o.error.find("zk3 not answering") != std::string::npos;
  }, 20000);
  EXPECT_TRUE(named) << o.error;
  zk.Start(2);
  ASSERT_TRUE(zk.WaitReady());
  bool back = WaitFor([&] {
    o = sample();
    return o.value == true;
  }, 30000);
  EXPECT_TRUE(back) << o.error;

  // An acknowledged write removed behind the probe's back: every server lacks it.
  ASSERT_EQ(admin.Children(parent, &writes), ZkError::kOk);
  ASSERT_FALSE(writes.empty());
  std::sort(writes.begin(), writes.end());
  ASSERT_EQ(admin.Delete(parent + "/" + writes[0]), ZkError::kOk);
  o = sample();
  EXPECT_EQ(o.value, false);
  EXPECT_NE(o.error.find("zk1 lacks 1 of"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find(writes[0]), std::string::npos) << o.error;

  // The probe cleans up after itself.
  probe.reset();
  // The deletes went through the probe's own session, maybe to another server: this one
  // catches up first.
  ZkStat stat;
  bool gone = WaitFor([&] {
    admin.Sync("/fl-writes-test", std::chrono::milliseconds(2000));
    return admin.Exists("/fl-writes-test", &stat) == ZkError::kNoNode;
  }, 10000);
  std::vector<std::string> left;
  admin.Children("/fl-writes-test", &left);
  std::vector<std::string> left_writes;
  admin.Children(parent, &left_writes);
  EXPECT_TRUE(gone) << "the probe left its writes behind: " << left.size() << " runs, " << left_writes.size()
                    << " writes";
}

}  // namespace
}  // namespace faultline

// HDFS NameNode HA and YARN RM HA against a real 3-server ZooKeeper ensemble on loopback:
// kill the active NameNode and see the standby fence it and take over; lose the ZooKeeper
// quorum and see no failover happen while the connection loss is logged.
#include <gtest/gtest.h>

#include <signal.h>

#include "checks/hdfs_znodes.h"
#include "checks/zk_role_probes.h"
#include "services/common.h"
#include "services/testing.h"

namespace faultline {
namespace {

using testing::LocalContext;
using testing::Proc;
using testing::SampleProbe;
using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;
using testing::ZkEnsemble;

constexpr int kZkBase = 22100;
constexpr int kNn1 = 22110, kNn2 = 22111;

struct HdfsCluster {
  TempDir dir;
  ZkEnsemble zk{3, kZkBase};
  std::unique_ptr<Proc> nn[2], zkfc[2];

  std::string Log(int i, const std::string& what) const { return dir / (what + std::to_string(i + 1) + ".log"); }
  int NnPort(int i) const { return i == 0 ? kNn1 : kNn2; }
  void StartNn(int i) {
    nn[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "namenode", "--id", "nn" + std::to_string(i + 1), "--http",
                                 "127.0.0.1:" + std::to_string(NnPort(i)), "--shared-dir", dir / "shared", "--log",
                                 Log(i, "nn")},
        dir / "nn.out");
  }
  void StartZkfc(int i) {
    zkfc[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "zkfc", "--id", "nn" + std::to_string(i + 1), "--nameservice", "ns1",
                                 "--zk", zk.Connect(), "--nn", "127.0.0.1:" + std::to_string(NnPort(i)),
                                 "--session-timeout", "3000", "--log", Log(i, "zkfc"), "--", "/bin/sh", "-c",
                                 "echo \"$target_namenodeid $target_host:$target_port\" >> " + (dir / "fenced")},
        dir / "zkfc.out");
  }
  // haadmin's view: {address: state}
  std::string HaAdmin() const {
    ExecRequest req;
    req.argv = {FL_SVC_PATH, "haadmin", "--nn", "nn1=127.0.0.1:" + std::to_string(kNn1), "--nn",
                "nn2=127.0.0.1:" + std::to_string(kNn2), "-getAllServiceState"};
    ExecResult res;
    testing::LocalTransport("nn1").Exec(req, &res);
    return res.stdout_data;
  }
  int ActiveCount() const {
    int n = 0;
    for (const auto& s : ParseHaAdminAllServiceState(HaAdmin())) n += s.state == "active";
    return n;
  }
  int ActiveIndex() const {
    for (const auto& s : ParseHaAdminAllServiceState(HaAdmin())) {
      if (s.state == "active") return s.address.ends_with(std::to_string(kNn1)) ? 0 : 1;
    }
    return -1;
  }
};

Inventory HdfsInventory(const std::string& connect) {
  testing::InventoryBuilder b;
  for (int i = 0; i < 3; ++i) {
    b.Host("zk" + std::to_string(i + 1), "zookeeper",
           {{"ansible_host", "127.0.0.1"},
            {"zookeeper_client_port", kZkBase + 3 * i},
            {"zookeeper_admin_port", kZkBase + 3 * i + 10000}});
  }
  std::vector<std::string> haadmin = {FL_SVC_PATH, "haadmin", "--nn", "nn1=127.0.0.1:" + std::to_string(kNn1),
                                      "--nn", "nn2=127.0.0.1:" + std::to_string(kNn2), "-getAllServiceState"};
  b.Host("nn1", "namenode", {{"ansible_host", "127.0.0.1"}, {"hdfs_namenode_id", "nn1"},
                             {"hdfs_namenode_address", "127.0.0.1:" + std::to_string(kNn1)},
                             {"hdfs_haadmin_command", haadmin},
                             {"hdfs_rw_command", {FL_SVC_PATH, "client", "hdfs", "--nn", "127.0.0.1:" + std::to_string(kNn1),
                                                  "--nn", "127.0.0.1:" + std::to_string(kNn2)}}});
  b.Host("nn2", "namenode", {{"ansible_host", "127.0.0.1"}, {"hdfs_namenode_id", "nn2"},
                             {"hdfs_namenode_address", "127.0.0.1:" + std::to_string(kNn2)},
                             {"hdfs_haadmin_command", haadmin}});
  b.AllVar("hdfs_nameservice", "ns1");
  (void)connect;
  return b.Build();
}

class HdfsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterRoleProbes(); }
};

TEST_F(HdfsTest, KillActiveNameNodeStandbyFencesAndTakesOver) {
  HdfsCluster c;
  ASSERT_TRUE(c.zk.WaitReady()) << "ZooKeeper ensemble did not form";
  for (int i = 0; i < 2; ++i) c.StartNn(i);
  for (int i = 0; i < 2; ++i) c.StartZkfc(i);
  ASSERT_TRUE(WaitFor([&] { return c.ActiveCount() == 1; }, 30000)) << c.HaAdmin();
  int old = c.ActiveIndex();
  ASSERT_GE(old, 0);
  std::string old_id = "nn" + std::to_string(old + 1), new_id = "nn" + std::to_string(2 - old);

  Inventory inv = HdfsInventory(c.zk.Connect());
  LocalContext ctx(inv);
  EXPECT_EQ(SampleProbe(ctx, "hdfs.active").value, old_id);
  EXPECT_EQ(SampleProbe(ctx, "hdfs.active_count").value, 1);
  EXPECT_EQ(SampleProbe(ctx, "hdfs.rw").value, true);

  c.nn[old]->Kill();
  ASSERT_TRUE(WaitFor([&] { return c.ActiveIndex() == 1 - old; }, 30000)) << c.HaAdmin();
  EXPECT_EQ(SampleProbe(ctx, "hdfs.active").value, new_id);
  Observation states = SampleProbe(ctx, "hdfs.states");
  EXPECT_EQ(states.value[old_id], "unreachable") << states.value.dump();
  EXPECT_EQ(states.value[new_id], "active") << states.value.dump();
  EXPECT_EQ(SampleProbe(ctx, "hdfs.rw").value, true);

  // The old active was fenced through the breadcrumb with the configured command, which
  // saw Hadoop's target_* environment.
  EXPECT_EQ(Slurp(c.dir / "fenced"), old_id + " 127.0.0.1:" + std::to_string(c.NnPort(old)) + "\n");
  std::string winner_log = Slurp(c.Log(1 - old, "zkfc"));
  EXPECT_NE(winner_log.find("====== Fencing successful by method org.apache.hadoop.ha.ShellCommandFencer"), std::string::npos);
  EXPECT_NE(winner_log.find("Successfully transitioned NameNode at 127.0.0.1:" + std::to_string(c.NnPort(1 - old)) +
                            " to active state"), std::string::npos);
  EXPECT_NE(Slurp(c.Log(old, "zkfc")).find("Entering state SERVICE_NOT_RESPONDING"), std::string::npos);

  // The old NameNode comes back as standby; there is still one active.
  c.StartNn(old);
  ASSERT_TRUE(WaitFor([&] {
    auto s = ParseHaAdminAllServiceState(c.HaAdmin());
    return s.size() == 2 && s[old].state == "standby";
  }, 20000)) << c.HaAdmin();
  EXPECT_EQ(c.ActiveIndex(), 1 - old);
}

TEST_F(HdfsTest, NoFailoverWithoutZooKeeperQuorum) {
  HdfsCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  for (int i = 0; i < 2; ++i) c.StartNn(i);
  for (int i = 0; i < 2; ++i) c.StartZkfc(i);
  ASSERT_TRUE(WaitFor([&] { return c.ActiveCount() == 1; }, 30000)) << c.HaAdmin();
  int active = c.ActiveIndex();
  Inventory inv = HdfsInventory(c.zk.Connect());
  LocalContext ctx(inv);
  EXPECT_EQ(SampleProbe(ctx, "zk.quorum").value, true);
  EXPECT_TRUE(SampleProbe(ctx, "zk.leader").value.is_string());
  EXPECT_EQ(SampleProbe(ctx, "zk.followers").value, 2);

  // Two of three servers go: the ensemble has no quorum.
  c.zk.Stop(0);
  c.zk.Stop(1);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "zk.quorum").value == false; }, 10000));
  EXPECT_TRUE(SampleProbe(ctx, "hdfs.active").unreachable);
  EXPECT_EQ(SampleProbe(ctx, "zk.mode", {{"host", "zk3"}}).value, "not_serving");
  ASSERT_TRUE(WaitFor([&] {
    return Slurp(c.Log(0, "zkfc")).find("Session disconnected. Entering neutral mode...") != std::string::npos &&
           Slurp(c.Log(1, "zkfc")).find("Session disconnected. Entering neutral mode...") != std::string::npos;
  }, 20000));
  EXPECT_NE(Slurp(c.Log(active, "zkfc")).find("KeeperErrorCode = ConnectionLoss"), std::string::npos);

  // Now the active NameNode dies too: nobody can take over without ZooKeeper.
  c.nn[active]->Kill();
  testing::Sleep(6000);
  auto states = ParseHaAdminAllServiceState(c.HaAdmin());
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1 - active].state, "standby") << c.HaAdmin();
  EXPECT_EQ(states[active].state, "unreachable");
  EXPECT_EQ(Slurp(c.Log(1 - active, "zkfc")).find("to active state"), std::string::npos);

  // The quorum comes back: the failover that was held back happens.
  c.zk.Start(0);
  c.zk.Start(1);
  ASSERT_TRUE(WaitFor([&] { return c.ActiveIndex() == 1 - active; }, 60000)) << c.HaAdmin();
}

// A frozen host (NameNode and ZKFC both stopped) loses the election and is fenced. When the
// NameNode resumes it must not serve as active: either the graceful fence that waited in
// its socket backlog turns it standby, or its first edit meets the newer writer epoch.
TEST_F(HdfsTest, FrozenActiveIsFencedWhenItResumes) {
  HdfsCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  for (int i = 0; i < 2; ++i) c.StartNn(i);
  for (int i = 0; i < 2; ++i) c.StartZkfc(i);
  ASSERT_TRUE(WaitFor([&] { return c.ActiveCount() == 1; }, 30000)) << c.HaAdmin();
  int old = c.ActiveIndex();
  Inventory inv = HdfsInventory(c.zk.Connect());
  LocalContext ctx(inv);
  c.zkfc[old]->Signal(SIGSTOP);
  c.nn[old]->Signal(SIGSTOP);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hdfs.active").value == "nn" + std::to_string(2 - old); }, 30000));
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hdfs.rw").value == true; }, 10000));
  c.nn[old]->Signal(SIGCONT);

  ExecRequest req;
  req.argv = {FL_SVC_PATH, "client", "hdfs", "--nn", "127.0.0.1:" + std::to_string(c.NnPort(old)), "stale-write"};
  ExecResult res;
  testing::LocalTransport("nn").Exec(req, &res);
  EXPECT_NE(res.exit_status, 0) << res.stdout_data;
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hdfs.active_count").value == 1; }, 10000)) << c.HaAdmin();
  EXPECT_EQ(c.ActiveIndex(), 1 - old);
  c.zkfc[old]->Signal(SIGCONT);
}

// The shared edits' writer epoch on its own: two NameNodes made active one after the other
// (what a split brain looks like to the storage); the older one's next edit kills it.
TEST_F(HdfsTest, WriterEpochKillsAStaleActive) {
  HdfsCluster c;
  for (int i = 0; i < 2; ++i) c.StartNn(i);
  auto call = [&](int i, const std::string& method, const std::string& target, const std::string& body) {
    int status = 0;
    std::string out;
    WaitFor([&] {
      return svc::HttpCall("127.0.0.1", c.NnPort(i), method, target, body, std::chrono::milliseconds(1000), &status,
                           &out).ok();
    }, 10000);
    return status;
  };
  EXPECT_EQ(call(0, "POST", "/transitionToActive", ""), 200);
  EXPECT_EQ(call(0, "PUT", "/webhdfs/v1/a?op=CREATE", "one"), 201);
  EXPECT_EQ(call(1, "PUT", "/webhdfs/v1/a?op=CREATE", "two"), 403);  // standby: StandbyException
  EXPECT_EQ(call(1, "POST", "/transitionToActive", ""), 200);
  EXPECT_EQ(call(1, "PUT", "/webhdfs/v1/b?op=CREATE", "two"), 201);
  int st = 0;
  std::string out;
  svc::HttpCall("127.0.0.1", c.NnPort(0), "PUT", "/webhdfs/v1/c?op=CREATE", "stale", std::chrono::milliseconds(2000), &st, &out);
  EXPECT_NE(st, 201);
  int code = 0;
  ASSERT_TRUE(WaitFor([&] { return c.nn[0]->Exited(&code); }, 10000));
  EXPECT_EQ(code, 1);
  EXPECT_NE(Slurp(c.Log(0, "nn")).find("IPC's epoch 1 is less than the last promised epoch 2"), std::string::npos)
      << Slurp(c.Log(0, "nn"));
  EXPECT_TRUE(std::filesystem::exists(c.dir / "shared/data/%2Fb"));
  EXPECT_FALSE(std::filesystem::exists(c.dir / "shared/data/%2Fc"));
}

TEST_F(HdfsTest, ResourceManagersFailOver) {
  TempDir dir;
  ZkEnsemble zk(1, 22120);
  ASSERT_TRUE(zk.WaitReady());
  std::unique_ptr<Proc> rm[2];
  for (int i = 0; i < 2; ++i) {
    rm[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "resourcemanager", "--id", "rm" + std::to_string(i + 1), "--cluster",
                                 "yarn1", "--zk", zk.Connect(), "--http", "127.0.0.1:" + std::to_string(22124 + i),
                                 "--session-timeout", "2000", "--log", dir / ("rm" + std::to_string(i + 1) + ".log")},
        dir / "rm.out");
  }
  testing::InventoryBuilder b;
  b.Host("zk1", "zookeeper", {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", 22120}});
  b.Host("rm1", "resourcemanager", {{"yarn_rm_id", "rm1"}});
  b.Host("rm2", "resourcemanager", {{"yarn_rm_id", "rm2"}});
  b.AllVar("yarn_cluster_id", "yarn1");
  Inventory inv = b.Build();
  LocalContext ctx(inv);
  std::string first;
  ASSERT_TRUE(WaitFor([&] {
    auto o = SampleProbe(ctx, "yarn.active");
    if (o.value.is_string()) first = o.value;
    return !first.empty();
  }, 20000));
  int idx = first == "rm1" ? 0 : 1;
  // The lock znode is written before the line is logged: the probe may see the new active
  // a moment before its log says so.
  auto logged_active = [&](const std::string& rm) {
    return WaitFor([&] { return Slurp(dir / (rm + ".log")).find("Transitioned to active state") != std::string::npos; },
                   5000);
  };
  EXPECT_TRUE(logged_active(first));
  rm[idx]->Kill();
  std::string second = first == "rm1" ? "rm2" : "rm1";
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "yarn.active").value == second; }, 20000));
  EXPECT_TRUE(logged_active(second));
}

}  // namespace
}  // namespace faultline

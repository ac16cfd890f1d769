// HBase masters and RegionServers against a real ZooKeeper: freeze a RegionServer past its
// session timeout and see its regions reassigned and the process abort when it resumes;
// kill the active master and see the backup take over with the assignment kept.
#include <gtest/gtest.h>

#include <signal.h>

#include "checks/hbase_znodes.h"
#include "checks/http_client.h"
#include "checks/zk_client.h"
#include "checks/zk_role_probes.h"
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

constexpr int kZk = 22130;
constexpr int kMaster[2] = {22140, 22141};
constexpr int kMasterInfo[2] = {22145, 22146};
constexpr int kRs[3] = {22150, 22151, 22152};

struct HBaseCluster {
  explicit HBaseCluster(int zk_servers = 1, int zk_base = kZk) : zk(zk_servers, zk_base), zk_base_(zk_base) {}
  TempDir dir;
  ZkEnsemble zk;
  int zk_base_;
  std::unique_ptr<Proc> master[2], rs[3];

  void StartMaster(int i) {
    master[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "hmaster", "--host", "127.0.0.1", "--port", std::to_string(kMaster[i]),
                                 "--info-port", std::to_string(kMasterInfo[i]), "--zk", zk.Connect(), "--regions",
                                 "6", "--session-timeout", "3000", "--log",
                                 dir / ("master" + std::to_string(i + 1) + ".log")},
        dir / "master.out");
  }
  void StartRs(int i) {
    rs[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "regionserver", "--host", "127.0.0.1", "--port", std::to_string(kRs[i]),
                                 "--zk", zk.Connect(), "--data-dir", dir / "hbase-data", "--session-timeout", "1500",
                                 "--log", dir / ("rs" + std::to_string(i + 1) + ".log")},
        dir / "rs.out");
  }
  // `master1_vars` overrides master1's variables; a null value removes one.
  Inventory MakeInventory(const nlohmann::json& master1_vars = nlohmann::json::object()) {
    testing::InventoryBuilder b;
    b.Host("zk1", "zookeeper", {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", zk_base_}});
    for (int i = 0; i < 2; ++i) {
      nlohmann::json vars = {{"ansible_host", "127.0.0.1"}, {"hbase_port", kMaster[i]},
                             {"hbase_master_info_port", kMasterInfo[i]}};
      for (const auto& [k, v] : master1_vars.items()) {
        if (i != 0) break;
        if (v.is_null()) vars.erase(k);
        else vars[k] = v;
      }
      b.Host("master" + std::to_string(i + 1), "hbase_master", vars);
    }
    for (int i = 0; i < 3; ++i) {
      b.Host("rs" + std::to_string(i + 1), "regionserver",
             {{"ansible_host", "127.0.0.1"}, {"hbase_port", kRs[i]},
              {"hbase_rw_command", {FL_SVC_PATH, "client", "hbase", "--zk", zk.Connect()}}});
    }
    return b.Build();
  }
  // Region -> server, read straight from ZooKeeper.
  std::map<std::string, std::string> Assignment() {
    ZkClient::Options o;
    o.connect = zk.Connect();
    ZkClient c(o);
    std::map<std::string, std::string> out;
    if (!c.Connect(std::chrono::milliseconds(3000)).ok()) return out;
    std::vector<std::string> names;
    c.Children(HBaseAssignmentDir("/hbase"), &names);
    for (const auto& n : names) {
      std::string data;
      RegionAssignment a;
      if (c.Get(HBaseAssignmentDir("/hbase") + "/" + n, &data) == ZkError::kOk && RegionAssignment::FromJson(data, &a)) {
        out[a.region] = a.state == "OPEN" ? a.server : "";
      }
    }
    return out;
  }
};

class HBaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterRoleProbes(); }
};

TEST_F(HBaseTest, FrozenRegionServerLosesRegionsAndAbortsOnResume) {
  HBaseCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  c.StartMaster(0);
  for (int i = 0; i < 3; ++i) c.StartRs(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.master").value == "master1"; }, 20000));
  ASSERT_TRUE(WaitFor([&] {
    return SampleProbe(ctx, "hbase.live_rs").value.size() == 3 && SampleProbe(ctx, "hbase.rit").value == 0;
  }, 20000));
  ASSERT_EQ(SampleProbe(ctx, "hbase.rw").value, true);

  // Freeze a server that holds regions, past its 1.5 s session.
  auto before = c.Assignment();
  ServerName victim;
  ASSERT_TRUE(ServerName::Parse(before.begin()->second, &victim));
  int v = victim.port - kRs[0];
  std::string victim_host = "rs" + std::to_string(v + 1);
  c.rs[v]->Signal(SIGSTOP);
  ASSERT_TRUE(WaitFor([&] {
    auto now = c.Assignment();
    for (const auto& [region, server] : now) {
      if (server.empty() || server == before.begin()->second) return false;
    }
    return !now.empty();
  }, 20000)) << Slurp(c.dir / "master1.log");
  EXPECT_EQ(SampleProbe(ctx, "hbase.dead_rs").value, nlohmann::json::array({victim_host}));
  // The master's JMX reports what it last read of the assignment, at most a round behind.
  EXPECT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.rit").value == 0; }, 5000));
  EXPECT_EQ(SampleProbe(ctx, "hbase.live_rs").value.size(), 2u);
  EXPECT_EQ(SampleProbe(ctx, "hbase.rw").value, true);
  std::string mlog = Slurp(c.dir / "master1.log");
  EXPECT_NE(mlog.find("processing expiration [" + before.begin()->second + "]"), std::string::npos);
  EXPECT_NE(mlog.find("regions reassigned"), std::string::npos);

  // Resumed, it finds its session expired and aborts, as HBase's does.
  c.rs[v]->Signal(SIGCONT);
  int code = 0;
  ASSERT_TRUE(WaitFor([&] { return c.rs[v]->Exited(&code); }, 20000));
  EXPECT_EQ(code, 1);
  std::string rslog = Slurp(c.dir / ("rs" + std::to_string(v + 1) + ".log"));
  EXPECT_NE(rslog.find("received expired from ZooKeeper, aborting"), std::string::npos) << rslog;
  EXPECT_NE(rslog.find("KeeperErrorCode = Session expired"), std::string::npos);
}

TEST_F(HBaseTest, BackupMasterTakesOverAndKeepsTheAssignment) {
  HBaseCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  c.StartMaster(0);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.master").value == "master1"; }, 20000));
  c.StartMaster(1);
  for (int i = 0; i < 3; ++i) c.StartRs(i);
  ASSERT_TRUE(WaitFor([&] {
    return SampleProbe(ctx, "hbase.backup_masters").value == nlohmann::json::array({"master2"}) &&
           SampleProbe(ctx, "hbase.rit").value == 0 && SampleProbe(ctx, "hbase.live_rs").value.size() == 3;
  }, 20000));
  auto before = c.Assignment();
  c.master[0]->Kill();
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.master").value == "master2"; }, 20000));
  EXPECT_EQ(SampleProbe(ctx, "hbase.backup_masters").value, nlohmann::json::array());
  testing::Sleep(1000);
  EXPECT_EQ(c.Assignment(), before);
  EXPECT_NE(Slurp(c.dir / "master2.log").find("Registered as active master=127.0.0.1," + std::to_string(kMaster[1])),
            std::string::npos);
  EXPECT_EQ(SampleProbe(ctx, "hbase.rw").value, true);
}

// The active master's JMX is where rit and dead_rs come from: in the servlet's shape, found
// through /hbase/master's info port when the inventory names none, and unreachable, saying
// exactly why, when there is no active master, nothing answers, or the answer lacks the bean.
TEST_F(HBaseTest, RitAndDeadServersComeFromTheActiveMastersJmx) {
  HBaseCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  {
    Inventory inv = c.MakeInventory();
    LocalContext ctx(inv);
    Observation o = SampleProbe(ctx, "hbase.rit");
    EXPECT_TRUE(o.unreachable);
    EXPECT_EQ(o.error, "no active master (/hbase/master does not exist), so no master JMX to read");
    EXPECT_EQ(SampleProbe(ctx, "hbase.dead_rs").error, o.error);
  }
  c.StartMaster(0);
  for (int i = 0; i < 3; ++i) c.StartRs(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.rit").value == 0; }, 20000));
  EXPECT_EQ(SampleProbe(ctx, "hbase.dead_rs").value, nlohmann::json::array());
  c.StartMaster(1);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "hbase.backup_masters").value.size() == 1; }, 20000));

  // The servlet's answer, as JSONBean writes it: {"beans":[{"name":..., "modelerType":..., ...}]}.
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(kMasterInfo[0]) + "/jmx";
  HttpResponse resp;
  ASSERT_TRUE(HttpGet(req, &resp).ok());
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "application/json; charset=utf8");
  EXPECT_EQ(resp.body.rfind("{\n  \"beans\": [\n    {\n      \"name\": \"Hadoop:service=HBase,name=Master,sub=Server\",\n"
                            "      \"modelerType\": \"Master,sub=Server\",\n", 0),
            0u)
      << resp.body;
  nlohmann::json all = nlohmann::json::parse(resp.body);
  ASSERT_EQ(all["beans"].size(), 2u);
  EXPECT_EQ(all["beans"][0]["tag.isActiveMaster"], "true");
  EXPECT_EQ(all["beans"][0]["numRegionServers"], 3);
  EXPECT_EQ(all["beans"][0]["numDeadRegionServers"], 0);
  EXPECT_EQ(all["beans"][0]["tag.deadRegionServers"], "");
  EXPECT_EQ(all["beans"][1]["name"], "Hadoop:service=HBase,name=Master,sub=AssignmentManager");
  EXPECT_EQ(all["beans"][1]["ritCount"], 0);
  req.url += "?qry=Hadoop:service=HBase,name=Master,sub=AssignmentManager";
  ASSERT_TRUE(HttpGet(req, &resp).ok());
  EXPECT_EQ(nlohmann::json::parse(resp.body)["beans"].size(), 1u);

  // No hbase_master_info_port: the info port the master wrote into /hbase/master.
  {
    Inventory no_var = c.MakeInventory({{"hbase_master_info_port", nullptr}});
    LocalContext ctx2(no_var);
    EXPECT_EQ(SampleProbe(ctx2, "hbase.rit").value, 0);
  }
  // Nothing listens on the port the inventory names.
  {
    Inventory wrong = c.MakeInventory({{"hbase_master_info_port", 22149}});
    LocalContext ctx2(wrong);
    Observation o = SampleProbe(ctx2, "hbase.rit");
    EXPECT_TRUE(o.unreachable);
    EXPECT_NE(o.error.find("http://127.0.0.1:22149/jmx?qry=Hadoop:service=HBase,name=Master,sub=AssignmentManager"),
              std::string::npos)
        << o.error;
  }
  // hbase_master_jmx_url naming the backup master: it has no AssignmentManager, and says so.
  {
    std::string backup = "http://127.0.0.1:" + std::to_string(kMasterInfo[1]) + "/jmx";
    Inventory to_backup = c.MakeInventory({{"hbase_master_jmx_url", backup}});
    LocalContext ctx2(to_backup);
    Observation o = SampleProbe(ctx2, "hbase.rit");
    EXPECT_TRUE(o.unreachable);
    EXPECT_EQ(o.error, backup + ": no bean Hadoop:service=HBase,name=Master,sub=AssignmentManager in the answer");
    EXPECT_EQ(SampleProbe(ctx2, "hbase.dead_rs").value, nlohmann::json::array());
    Inventory bad = c.MakeInventory({{"hbase_master_jmx_url", "hm1:16010/jmx"}});
    LocalContext ctx3(bad);
    EXPECT_NE(SampleProbe(ctx3, "hbase.rit").error.find("hbase_master_jmx_url 'hm1:16010/jmx' is not an http://"),
              std::string::npos);
  }
}

// Two of three ZooKeeper servers stop: a RegionServer that dies meanwhile is not processed
// (no session can expire without a quorum) until the quorum is back.
TEST_F(HBaseTest, NoReassignmentWithoutZooKeeperQuorum) {
  HBaseCluster c(3, 22200);
  ASSERT_TRUE(c.zk.WaitReady());
  c.StartMaster(0);
  for (int i = 0; i < 3; ++i) c.StartRs(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] {
    return SampleProbe(ctx, "hbase.live_rs").value.size() == 3 && SampleProbe(ctx, "hbase.rit").value == 0;
  }, 30000));
  std::map<std::string, std::string> before;
  // Reads may go to a follower that has not applied the last writes yet.
  ASSERT_TRUE(WaitFor([&] {
    before = c.Assignment();
    for (const auto& [region, server] : before) {
      if (server.empty()) return false;
    }
    return before.size() == 6;
  }, 10000));
  ServerName victim;
  ASSERT_TRUE(ServerName::Parse(before.begin()->second, &victim));
  int v = victim.port - kRs[0];

  c.zk.Stop(0);
  c.zk.Stop(1);
  ASSERT_TRUE(WaitFor([&] {
    return Slurp(c.dir / "master1.log").find("received disconnected from ZooKeeper (ConnectionLoss)") != std::string::npos;
  }, 20000));
  c.rs[v]->Kill();
  testing::Sleep(5000);
  EXPECT_EQ(Slurp(c.dir / "master1.log").find("processing expiration"), std::string::npos);

  c.zk.Start(0);
  c.zk.Start(1);
  ASSERT_TRUE(WaitFor([&] {
    auto now = c.Assignment();
    for (const auto& [region, server] : now) {
      if (server.empty() || server == before.begin()->second) return false;
    }
    return !now.empty();
  }, 60000)) << Slurp(c.dir / "master1.log");
  EXPECT_NE(Slurp(c.dir / "master1.log").find("processing expiration [" + before.begin()->second + "]"), std::string::npos);
}

}  // namespace
}  // namespace faultline

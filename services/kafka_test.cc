// Kafka brokers against a real ZooKeeper: kill the controller, which also leads a
// partition, and see a new controller with a higher epoch and a new leader from the ISR;
// the killed broker comes back and rejoins the ISR.
#include <gtest/gtest.h>

#include "checks/kafka_znodes.h"
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

constexpr int kZk = 22160;
constexpr int kBroker[3] = {22170, 22171, 22172};

struct KafkaCluster {
  explicit KafkaCluster(int zk_servers = 1, int zk_base = kZk) : zk(zk_servers, zk_base), zk_base_(zk_base) {}
  TempDir dir;
  ZkEnsemble zk;
  int zk_base_;
  std::unique_ptr<Proc> broker[3];

  void Start(int i) {
    broker[i] = std::make_unique<Proc>(
        std::vector<std::string>{FL_SVC_PATH, "kafka", "--id", std::to_string(i + 1), "--host", "127.0.0.1", "--port",
                                 std::to_string(kBroker[i]), "--zk", zk.Connect(), "--data-dir",
                                 dir / ("kafka" + std::to_string(i + 1)), "--topics", "orders:3:3,faultline-rw:1:3",
                                 "--session-timeout", "2000", "--log", dir / ("kafka" + std::to_string(i + 1) + ".log")},
        dir / "kafka.out");
  }
  Inventory MakeInventory() {
    testing::InventoryBuilder b;
    b.Host("zk1", "zookeeper", {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", zk_base_}});
    std::vector<std::string> rw = {FL_SVC_PATH, "client", "kafka"};
    for (int p : kBroker) {
      rw.push_back("--bootstrap");
      rw.push_back("127.0.0.1:" + std::to_string(p));
    }
    for (int i = 0; i < 3; ++i) {
      b.Host("broker" + std::to_string(i + 1), "kafka",
             {{"ansible_host", "127.0.0.1"}, {"kafka_broker_id", i + 1}, {"kafka_rw_command", rw}});
    }
    return b.Build();
  }
};

class KafkaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterRoleProbes(); }
};

TEST_F(KafkaTest, ControllerAndLeaderDieNewOnesComeFromTheIsr) {
  KafkaCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  for (int i = 0; i < 3; ++i) c.Start(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  nlohmann::json all3 = {"broker1", "broker2", "broker3"};
  ASSERT_TRUE(WaitFor([&] {
    return SampleProbe(ctx, "kafka.live_brokers").value == all3 &&
           SampleProbe(ctx, "kafka.controller").value.is_string() &&
           SampleProbe(ctx, "kafka.under_replicated").value == 0 &&
           SampleProbe(ctx, "kafka.isr", {{"topic", "orders"}, {"partition", 0}}).value.size() == 3;
  }, 30000));
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.rw").value == true; }, 10000));
  EXPECT_EQ(SampleProbe(ctx, "kafka.offline_partitions").value, 0);

  std::string controller = SampleProbe(ctx, "kafka.controller").value;
  long long epoch = SampleProbe(ctx, "kafka.controller_epoch").value;
  // The controller leads at least one partition of orders (replicas rotate over 3 brokers).
  int partition = -1;
  for (int p = 0; p < 3; ++p) {
    if (SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}, {"partition", p}}).value == controller) partition = p;
  }
  ASSERT_GE(partition, 0);
  int victim = controller.back() - '1';
  c.broker[victim]->Kill();

  ASSERT_TRUE(WaitFor([&] {
    auto ctl = SampleProbe(ctx, "kafka.controller").value;
    auto leader = SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}, {"partition", partition}}).value;
    return ctl.is_string() && ctl != controller && leader.is_string() && leader != controller;
  }, 30000));
  EXPECT_GT(SampleProbe(ctx, "kafka.controller_epoch").value.get<long long>(), epoch);
  auto isr = SampleProbe(ctx, "kafka.isr", {{"topic", "orders"}, {"partition", partition}}).value;
  EXPECT_EQ(isr.size(), 2u) << isr.dump();
  for (const auto& h : isr) EXPECT_NE(h, controller);
  EXPECT_EQ(SampleProbe(ctx, "kafka.offline_partitions").value, 0);
  EXPECT_EQ(SampleProbe(ctx, "kafka.under_replicated").value, 4);
  EXPECT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.rw").value == true; }, 5000));

  std::string new_controller = SampleProbe(ctx, "kafka.controller").value;
  std::string log = Slurp(c.dir / ("kafka" + std::string(1, new_controller.back()) + ".log"));
  EXPECT_NE(log.find("successfully elected as the controller. Epoch incremented to " + std::to_string(epoch + 1)),
            std::string::npos) << log;
  EXPECT_NE(log.find("Currently active brokers in the cluster"), std::string::npos);

  // The old broker returns, catches up and is added back to the ISR by the leaders.
  c.Start(victim);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.under_replicated").value == 0; }, 30000));
}

TEST_F(KafkaTest, LastIsrMemberGoneMeansOffline) {
  KafkaCluster c;
  ASSERT_TRUE(c.zk.WaitReady());
  for (int i = 0; i < 3; ++i) c.Start(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  // Topics exist once the controller has seen enough brokers; until then nothing is under-replicated.
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.under_replicated").value == 0 &&
                                   SampleProbe(ctx, "kafka.isr", {{"topic", "orders"}, {"partition", 2}}).value.size() == 3 &&
                                   SampleProbe(ctx, "kafka.isr", {{"topic", "faultline-rw"}}).value.size() == 3; }, 30000));
  c.broker[0]->Kill();
  c.broker[1]->Kill();
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.controller").value == "broker3"; }, 30000));
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.offline_partitions").value == 0; }, 30000))
      << SampleProbe(ctx, "kafka.offline_partitions").value << "\n" << Slurp(c.dir / "kafka3.log");
  c.broker[2]->Kill();
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "kafka.offline_partitions").value == 4; }, 30000))
      << SampleProbe(ctx, "kafka.offline_partitions").value << " live "
      << SampleProbe(ctx, "kafka.live_brokers").value << SampleProbe(ctx, "kafka.offline_partitions").error;
  EXPECT_TRUE(SampleProbe(ctx, "kafka.controller").value.is_null());
}

// Two of three ZooKeeper servers stop: the brokers log the connection loss, and a partition
// whose leader dies meanwhile keeps its dead leader until the quorum is back.
TEST_F(KafkaTest, NoLeaderElectionWithoutZooKeeperQuorum) {
  KafkaCluster c(3, 22180);
  ASSERT_TRUE(c.zk.WaitReady());
  for (int i = 0; i < 3; ++i) c.Start(i);
  Inventory inv = c.MakeInventory();
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] {
    return SampleProbe(ctx, "kafka.isr", {{"topic", "orders"}, {"partition", 0}}).value.size() == 3 &&
           SampleProbe(ctx, "kafka.controller").value.is_string();
  }, 30000));
  std::string leader = SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}, {"partition", 0}}).value;
  int victim = leader.back() - '1';
  // Every broker knows the partition before ZooKeeper goes.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitFor([&] {
      int status = 0;
      std::string out;
      return svc::HttpCall("127.0.0.1", kBroker[i], "GET", "/status", "", std::chrono::milliseconds(2000), &status, &out).ok() &&
             out.find("orders-0") != std::string::npos;
    }, 10000));
  }

  c.zk.Stop(0);
  c.zk.Stop(1);
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 3; ++i) {
      if (Slurp(c.dir / ("kafka" + std::to_string(i + 1) + ".log")).find("Connection loss") == std::string::npos) return false;
    }
    return true;
  }, 20000));
  EXPECT_TRUE(SampleProbe(ctx, "kafka.controller").unreachable);
  c.broker[victim]->Kill();
  testing::Sleep(5000);
  // What the surviving brokers believe: the dead broker still leads orders-0.
  for (int i = 0; i < 3; ++i) {
    if (i == victim) continue;
    int status = 0;
    std::string out;
    ASSERT_TRUE(svc::HttpCall("127.0.0.1", kBroker[i], "GET", "/status", "", std::chrono::milliseconds(2000), &status, &out).ok());
    auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["partitions"]["orders-0"]["leader"], victim + 1) << out;
  }

  c.zk.Start(0);
  c.zk.Start(1);
  ASSERT_TRUE(WaitFor([&] {
    auto l = SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}, {"partition", 0}}).value;
    return l.is_string() && l != leader;
  }, 60000));
}

}  // namespace
}  // namespace faultline

namespace faultline {
namespace {

// Kafka's znodes as a Kafka 3.4+ cluster under the chroot /kafka writes them (ZkData.scala),
// on a real ZooKeeper: read under the chroot they name the hosts; a wrong chroot is named
// as such, never an empty broker list or "no controller"; a KRaft controller holding
// /controller during a migration is not reported as a broker.
TEST_F(KafkaTest, ZnodesAreReadUnderKafkasChroot) {
  ZkEnsemble zk(1, kZk);
  ASSERT_TRUE(zk.WaitReady());
  ZkClient::Options o;
  o.connect = zk.Connect();
  ZkClient c(o);
  ASSERT_TRUE(c.Connect(std::chrono::milliseconds(5000)).ok());
  ASSERT_TRUE(c.EnsurePath("/kafka/brokers/ids").ok());
  ASSERT_TRUE(c.EnsurePath("/kafka/brokers/topics/orders/partitions/0").ok());
  ASSERT_EQ(c.Create("/kafka/brokers/ids/3",
                     R"({"features":{},"listener_security_protocol_map":{"SSL":"SSL"},"endpoints":["SSL://kafka3.example.com:9093"],"jmx_port":9999,"port":-1,"host":null,"version":5,"timestamp":"1700000000456"})",
                     true),
            ZkError::kOk);
  ASSERT_EQ(c.Create("/kafka/controller", R"({"version":2,"brokerid":3,"timestamp":"1700000000123","kraftControllerEpoch":-1})", true),
            ZkError::kOk);
  ASSERT_EQ(c.Set("/kafka/brokers/topics/orders",
                  R"({"partitions":{"0":[3]},"topic_id":"q4d7T9xHRv2nD0kZb0mV0g","adding_replicas":{},"removing_replicas":{},"version":3})"),
            ZkError::kOk);
  ASSERT_EQ(c.Create("/kafka/brokers/topics/orders/partitions/0/state",
                     R"({"controller_epoch":8,"leader":3,"version":1,"leader_epoch":5,"isr":[3]})", false),
            ZkError::kOk);

  testing::InventoryBuilder b;
  b.Host("zk1", "zookeeper", {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", kZk}});
  b.Host("broker3", "kafka", {{"ansible_host", "127.0.0.1"}, {"kafka_broker_id", 3}});
  b.AllVar("kafka_zookeeper_connect", zk.Connect() + "/kafka");
  Inventory inv = b.Build();
  LocalContext ctx(inv);
  EXPECT_EQ(SampleProbe(ctx, "kafka.controller").value, "broker3");
  EXPECT_EQ(SampleProbe(ctx, "kafka.live_brokers").value, nlohmann::json({"broker3"}));
  EXPECT_EQ(SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}}).value, "broker3");

  // RECOVERING after an unclean election: not led.
  ASSERT_EQ(c.Set("/kafka/brokers/topics/orders/partitions/0/state",
                  R"({"controller_epoch":8,"leader":3,"version":1,"leader_epoch":6,"isr":[3],"leader_recovery_state":1})"),
            ZkError::kOk);
  EXPECT_TRUE(SampleProbe(ctx, "kafka.partition_leader", {{"topic", "orders"}}).value.is_null());
  EXPECT_EQ(SampleProbe(ctx, "kafka.offline_partitions").value, 1);

  ASSERT_EQ(c.Delete("/kafka/controller"), ZkError::kOk);
  ASSERT_EQ(c.Create("/kafka/controller", R"({"version":2,"brokerid":3000,"timestamp":"1700000000789","kraftControllerEpoch":5})", true),
            ZkError::kOk);
  Observation kraft = SampleProbe(ctx, "kafka.controller");
  EXPECT_TRUE(kraft.unreachable);
  EXPECT_EQ(kraft.error,
            "/controller is held by KRaft controller 3000 (migration), kraftControllerEpoch 5: no broker is controller");

  for (const char* wrong : {"", "/kafka-prod"}) {
    testing::InventoryBuilder w;
    w.Host("zk1", "zookeeper", {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", kZk}});
    w.Host("broker3", "kafka", {{"ansible_host", "127.0.0.1"}, {"kafka_broker_id", 3}});
    w.AllVar("kafka_zookeeper_connect", zk.Connect() + wrong);
    Inventory winv = w.Build();
    LocalContext wctx(winv);
    std::string missing = std::string(wrong).empty() ? "/brokers/ids" : "/kafka-prod";
    for (const char* probe : {"kafka.controller", "kafka.live_brokers", "kafka.controller_epoch"}) {
      Observation obs = SampleProbe(wctx, probe);
      EXPECT_TRUE(obs.unreachable) << probe << " " << wrong;
      EXPECT_EQ(obs.error, "no " + missing + " on the ensemble (wrong chroot?)") << probe << " " << wrong;
    }
  }
}

}  // namespace
}  // namespace faultline

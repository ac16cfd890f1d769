// Kafka's znodes (ZooKeeper mode) decoded from fixtures written as Kafka 3.4+ writes them
// (core/src/main/scala/kafka/zk/ZkData.scala: ControllerZNode, BrokerIdZNode, TopicZNode,
// TopicPartitionStateZNode), and kafka_zookeeper_connect read as Kafka's zookeeper.connect.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "checks/kafka_znodes.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"
#include "tests/fixture.h"

namespace faultline {
namespace {

std::string Fixture(const std::string& name) { return testing::ReadFixture("kafka/" + name); }

TEST(KafkaController, Version1IsABroker) {
  KafkaController c;
  ASSERT_TRUE(DecodeKafkaController(Fixture("controller.json"), &c));
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.id, 2);
  EXPECT_EQ(c.timestamp_ms, 1700000000123LL);
  EXPECT_EQ(c.kraft_controller_epoch, -1);
  EXPECT_FALSE(c.kraft());
}

TEST(KafkaController, Version2WithEpochMinusOneIsABroker) {
  KafkaController c;
  ASSERT_TRUE(DecodeKafkaController(Fixture("controller_v2.json"), &c));
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.id, 1);
  EXPECT_EQ(c.kraft_controller_epoch, -1);
  EXPECT_FALSE(c.kraft());
}

TEST(KafkaController, Version2WithAKRaftEpochIsTheMigratingKRaftController) {
  KafkaController c;
  ASSERT_TRUE(DecodeKafkaController(Fixture("controller_v2_migration.json"), &c));
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.id, 3000);
  EXPECT_EQ(c.kraft_controller_epoch, 5);
  EXPECT_TRUE(c.kraft());
  EXPECT_EQ(KafkaKRaftControllerMessage(c),
            "/controller is held by KRaft controller 3000 (migration), kraftControllerEpoch 5: no broker is controller");
}

TEST(KafkaController, RecordsWithoutAnIntegerBrokerIdOrEpochAreRejected) {
  KafkaController c;
  EXPECT_FALSE(DecodeKafkaController(R"({"version":2})", &c));
  EXPECT_FALSE(DecodeKafkaController(R"({"version":2,"brokerid":"1"})", &c));
  EXPECT_FALSE(DecodeKafkaController(R"({"version":2,"brokerid":1,"kraftControllerEpoch":"5"})", &c));
  EXPECT_FALSE(DecodeKafkaController("1", &c));
}

TEST(KafkaBroker, PlaintextBrokerHasItsHostAndPort) {
  KafkaBrokerInfo b;
  ASSERT_TRUE(DecodeKafkaBroker(Fixture("brokers_ids_1.json"), &b));
  EXPECT_EQ(b.host, "kafka1.example.com");
  EXPECT_EQ(b.port, 9092);
  EXPECT_EQ(b.timestamp_ms, 1700000000000LL);
}

TEST(KafkaBroker, SslOnlyBrokerIsReadFromItsEndpoint) {
  KafkaBrokerInfo b;
  ASSERT_TRUE(DecodeKafkaBroker(Fixture("brokers_ids_3_ssl_only.json"), &b));
  EXPECT_EQ(b.host, "kafka3.example.com");
  EXPECT_EQ(b.port, 9093);
  EXPECT_EQ(b.timestamp_ms, 1700000000456LL);
}

TEST(KafkaBroker, ListenerNamesAreReadFromTheFirstEndpoint) {
  KafkaBrokerInfo b;
  ASSERT_TRUE(DecodeKafkaBroker(Fixture("brokers_ids_2_listener_names.json"), &b));
  EXPECT_EQ(b.host, "kafka2.example.com");
  EXPECT_EQ(b.port, 9094);
  ASSERT_TRUE(DecodeKafkaBroker(R"({"version":5,"host":null,"port":-1,"endpoints":["SSL://[2001:db8::7]:9093"]})", &b));
  EXPECT_EQ(b.host, "2001:db8::7");
  EXPECT_EQ(b.port, 9093);
}

TEST(KafkaTopic, Version3CarriesItsTopicId) {
  std::map<int, std::vector<int>> a;
  std::string id;
  ASSERT_TRUE(DecodeKafkaTopic(Fixture("topic_orders.json"), &a, &id));
  EXPECT_EQ(id, "q4d7T9xHRv2nD0kZb0mV0g");
  EXPECT_EQ(a, (std::map<int, std::vector<int>>{{0, {1, 2, 3}}, {1, {2, 3, 1}}, {2, {3, 1, 2}}}));
  ASSERT_TRUE(DecodeKafkaTopic(R"({"version":1,"partitions":{"0":[1]}})", &a, &id));
  EXPECT_EQ(id, "");
  EXPECT_FALSE(DecodeKafkaTopic(R"({"version":3,"partitions":{},"topic_id":7})", &a, &id));
}

TEST(KafkaPartitionState, ALeaderInPlaceIsLed) {
  KafkaPartitionState s;
  ASSERT_TRUE(DecodeKafkaPartitionState(Fixture("orders_0_state.json"), &s));
  EXPECT_EQ(s.leader, 2);
  EXPECT_EQ(s.leader_recovery_state, 0);
  EXPECT_TRUE(s.led());
  ASSERT_TRUE(DecodeKafkaPartitionState(Fixture("orders_1_state_offline.json"), &s));
  EXPECT_EQ(s.leader, -1);
  EXPECT_FALSE(s.led());
}

TEST(KafkaPartitionState, ARecoveringLeaderIsNotCountedAsLed) {
  KafkaPartitionState s;
  ASSERT_TRUE(DecodeKafkaPartitionState(Fixture("orders_2_state_recovering.json"), &s));
  EXPECT_EQ(s.leader, 3);
  EXPECT_EQ(s.leader_epoch, 5);
  EXPECT_EQ(s.controller_epoch, 8);
  EXPECT_EQ(s.isr, (std::vector<int>{3}));
  EXPECT_EQ(s.leader_recovery_state, 1);
  EXPECT_FALSE(s.led());
  // LeaderRecoveryState has only RECOVERED (0) and RECOVERING (1).
  EXPECT_FALSE(DecodeKafkaPartitionState(R"({"leader":3,"isr":[3],"leader_recovery_state":2})", &s));
}

TEST(KafkaChroot, AMissingChrootIsNamed) {
  EXPECT_EQ(KafkaNoZnodeMessage("/kafka"), "no /kafka on the ensemble (wrong chroot?)");
  EXPECT_EQ(KafkaNoZnodeMessage("/kafka/brokers/ids"), "no /kafka/brokers/ids on the ensemble (wrong chroot?)");
}

TEST(ZkConnect, SplitsTheEnsembleFromTheChroot) {
  std::string hosts, chroot;
  ASSERT_TRUE(ParseZkConnect("zk1:2181,zk2:2181/kafka", &hosts, &chroot).ok());
  EXPECT_EQ(hosts, "zk1:2181,zk2:2181");
  EXPECT_EQ(chroot, "/kafka");
  ASSERT_TRUE(ParseZkConnect("zk1,zk2:2182/apps/kafka-prod", &hosts, &chroot).ok());
  EXPECT_EQ(hosts, "zk1,zk2:2182");
  EXPECT_EQ(chroot, "/apps/kafka-prod");
  ASSERT_TRUE(ParseZkConnect("zk1:2181/", &hosts, &chroot).ok());
  EXPECT_EQ(chroot, "");
  ASSERT_TRUE(ParseZkConnect("zk1:2181", &hosts, &chroot).ok());
  EXPECT_EQ(chroot, "");
}

TEST(ZkConnect, BadStringsSayWhatIsWrong) {
  std::string hosts, chroot;
  EXPECT_EQ(ParseZkConnect("/kafka", &hosts, &chroot).message(), "'/kafka' names no ZooKeeper server");
  EXPECT_EQ(ParseZkConnect("zk1:2181,,zk2/kafka", &hosts, &chroot).message(),
            "'zk1:2181,,zk2/kafka' has an empty server entry");
  EXPECT_EQ(ParseZkConnect("zk1:21810000/kafka", &hosts, &chroot).message(),
            "'zk1:21810000/kafka': server 'zk1:21810000' is not host:port (port 1-65535)");
  EXPECT_EQ(ParseZkConnect("zk1:2181/kafka/", &hosts, &chroot).message(),
            "'zk1:2181/kafka/': chroot '/kafka/' ends with '/'");
  EXPECT_EQ(ParseZkConnect("zk1:2181/a//b", &hosts, &chroot).message(),
            "'zk1:2181/a//b': chroot '/a//b' has an empty, '.' or '..' segment");
  EXPECT_EQ(ParseZkConnect("zk1:2181/a/../b", &hosts, &chroot).message(),
            "'zk1:2181/a/../b': chroot '/a/../b' has an empty, '.' or '..' segment");
}

TEST(KafkaProbes, ABadConnectStringNamesTheInventoryHostAndVariable) {
  RegisterKafkaProbes();
  Inventory inv;
  inv.path = "inventories/prod.yml";
  for (const char* name : {"zk1", "kafka1"}) {
    InventoryHost& h = inv.hosts[name];
    h.name = name;
    h.vars = {{"ansible_host", "127.0.0.1"}};
  }
  inv.groups["zookeeper"].hosts = {"zk1"};
  inv.groups["all"].name = "all";
  inv.hosts["kafka1"].vars["kafka_zookeeper_connect"] = "zk1:2181/kafka/";
  ProbeSpec spec;
  spec.name = "kafka.controller";
  spec.params = nlohmann::json::object();
  std::unique_ptr<Probe> probe;
  Status st = ProbeRegistry::Global().Make(spec, inv, &probe);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_EQ(st.message(),
            "inventory inventories/prod.yml: host kafka1: kafka_zookeeper_connect 'zk1:2181/kafka/': chroot "
            "'/kafka/' ends with '/' (Kafka's zookeeper.connect, e.g. zk1:2181,zk2:2181/kafka)");
  inv.hosts["kafka1"].vars["kafka_zookeeper_connect"] = "zk1:2181/kafka";
  EXPECT_TRUE(ProbeRegistry::Global().Make(spec, inv, &probe).ok());
}

}  // namespace
}  // namespace faultline

// The coordination znodes of HDFS, YARN, HBase and Kafka, decoded from fixtures encoded as
// the real systems encode them (tests/fixtures/), and encoded back byte for byte.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "checks/hbase_znodes.h"
#include "checks/hdfs_znodes.h"
#include "checks/kafka_znodes.h"
#include "tests/fixture.h"

namespace faultline {
namespace {

std::string Fixture(const std::string& name) { return testing::ReadFixture(name); }

TEST(ActiveNodeInfo, DecodesAndEncodesLikeHadoop) {
  std::string bytes = Fixture("hdfs/ActiveStandbyElectorLock");
  ActiveNodeInfo info;
  ASSERT_TRUE(DecodeActiveNodeInfo(bytes, &info).ok());
  EXPECT_EQ(info.nameservice_id, "mycluster");
  EXPECT_EQ(info.namenode_id, "nn2");
  EXPECT_EQ(info.hostname, "nn2.example.com");
  EXPECT_EQ(info.port, 8020);
  EXPECT_EQ(info.zkfc_port, 8019);
  EXPECT_EQ(EncodeActiveNodeInfo(info), bytes);
}

TEST(ActiveNodeInfo, RejectsTruncatedAndIncomplete) {
  std::string bytes = Fixture("hdfs/ActiveBreadCrumb");
  ActiveNodeInfo info;
  EXPECT_FALSE(DecodeActiveNodeInfo(bytes.substr(0, bytes.size() - 1), &info).ok());
  Status st = DecodeActiveNodeInfo(bytes.substr(0, 11), &info);  // only nameserviceId
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("required field 2 missing"), std::string::npos) << st.message();
}

TEST(ActiveRmInfo, Decodes) {
  ActiveRmInfo info;
  ASSERT_TRUE(DecodeActiveRmInfo(Fixture("yarn/ActiveStandbyElectorLock"), &info).ok());
  EXPECT_EQ(info.cluster_id, "yarn-cluster");
  EXPECT_EQ(info.rm_id, "rm1");
  EXPECT_EQ(EncodeActiveRmInfo(info), Fixture("yarn/ActiveStandbyElectorLock"));
}

TEST(HaAdmin, ParsesStatesAndFailures) {
  auto s = ParseHaAdminAllServiceState(Fixture("hdfs/haadmin-getAllServiceState.txt"));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].address, "nn1.example.com:8020");
  EXPECT_EQ(s[0].state, "active");
  EXPECT_EQ(s[1].state, "standby");
  s = ParseHaAdminAllServiceState(Fixture("hdfs/haadmin-getAllServiceState-down.txt"));
  ASSERT_EQ(s.size(), 2u);  // the WARN line is skipped
  EXPECT_EQ(s[0].state, "unreachable");
  EXPECT_NE(s[0].detail.find("Connection refused"), std::string::npos);
  EXPECT_EQ(s[1].state, "active");
  std::string text = Fixture("hdfs/haadmin-getAllServiceState.txt");
  EXPECT_EQ(FormatHaServiceState({"nn1.example.com:8020", "active", ""}), text.substr(0, text.find('\n')));
}

TEST(HBaseMaster, DecodesAndEncodesLikeHBase) {
  std::string bytes = Fixture("hbase/master");
  ServerName sn;
  int info_port = 0;
  ASSERT_TRUE(DecodeHBaseMaster(bytes, &sn, &info_port).ok());
  EXPECT_EQ(sn.ToString(), "hmaster1.example.com,16000,1700000000000");
  EXPECT_EQ(info_port, 16010);
  EXPECT_EQ(EncodeHBaseMaster(sn, 16010, "master:16000"), bytes);
  EXPECT_EQ(EncodeHBaseRegionServer(16030, "regionserver:16020"), Fixture("hbase/rs-node"));
}

TEST(HBaseMaster, RejectsDataWithoutMagic) {
  ServerName sn;
  Status st = DecodeHBaseMaster("hmaster1:16000", &sn);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("PBUF"), std::string::npos);
  std::string bytes = Fixture("hbase/master");
  bytes[4] = 0x7f;  // an id length past the end
  EXPECT_FALSE(DecodeHBaseMaster(bytes, &sn).ok());
}

TEST(ServerNameText, ParsesHBaseForm) {
  ServerName sn;
  ASSERT_TRUE(ServerName::Parse("rs1.example.com,16020,1700000000001", &sn));
  EXPECT_EQ(sn.host, "rs1.example.com");
  EXPECT_EQ(sn.port, 16020);
  EXPECT_EQ(sn.start_code, 1700000000001ULL);
  EXPECT_FALSE(ServerName::Parse("rs1.example.com:16020", &sn));
  EXPECT_FALSE(ServerName::Parse("rs1,x,1", &sn));
}

TEST(Kafka, DecodesRealZnodes) {
  KafkaBrokerInfo b;
  ASSERT_TRUE(DecodeKafkaBroker(Fixture("kafka/brokers_ids_1.json"), &b));
  EXPECT_EQ(b.host, "kafka1.example.com");
  EXPECT_EQ(b.port, 9092);
  ASSERT_TRUE(DecodeKafkaBroker(Fixture("kafka/brokers_ids_3_ssl_only.json"), &b));
  EXPECT_EQ(b.host, "kafka3.example.com");
  EXPECT_EQ(b.port, 9093);
  KafkaController c;
  ASSERT_TRUE(DecodeKafkaController(Fixture("kafka/controller.json"), &c));
  EXPECT_EQ(c.id, 2);
  EXPECT_FALSE(DecodeKafkaController("{\"version\":1}", &c));
  std::map<int, std::vector<int>> topic;
  ASSERT_TRUE(DecodeKafkaTopic(Fixture("kafka/topic_orders.json"), &topic));
  EXPECT_EQ(topic.size(), 3u);
  EXPECT_EQ(topic[1], (std::vector<int>{2, 3, 1}));
  KafkaPartitionState s;
  ASSERT_TRUE(DecodeKafkaPartitionState(Fixture("kafka/orders_0_state.json"), &s));
  EXPECT_EQ(s.leader, 2);
  EXPECT_EQ(s.leader_epoch, 4);
  EXPECT_EQ(s.controller_epoch, 7);
  EXPECT_EQ(s.isr, (std::vector<int>{2, 3}));
  ASSERT_TRUE(DecodeKafkaPartitionState(Fixture("kafka/orders_1_state_offline.json"), &s));
  EXPECT_EQ(s.leader, -1);
  // What the lab brokers write reads back the same.
  KafkaPartitionState round;
  ASSERT_TRUE(DecodeKafkaPartitionState(EncodeKafkaPartitionState(s), &round));
  EXPECT_EQ(round.isr, s.isr);
  EXPECT_EQ(round.leader_epoch, 9);
}

}  // namespace
}  // namespace faultline

namespace faultline {
namespace {

TEST(Kafka, WrongTypesAreRejectedNotThrown) {
  KafkaPartitionState s;
  EXPECT_FALSE(DecodeKafkaPartitionState(R"({"leader":"2","isr":[2]})", &s));
  EXPECT_FALSE(DecodeKafkaPartitionState(R"({"leader":2,"isr":["2"]})", &s));
  KafkaBrokerInfo b;
  EXPECT_FALSE(DecodeKafkaBroker(R"({"host":"h","timestamp":17})", &b) && b.timestamp_ms != 0);
  RegionAssignment a;
  EXPECT_FALSE(RegionAssignment::FromJson(R"({"region":7})", &a));
}

}  // namespace
}  // namespace faultline

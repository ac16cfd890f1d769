// The HBase master's JMX answers decoded from fixtures in the servlet's shape
// (hbase-http/.../util/JSONBean.java) with the beans' attribute names from
// MetricsAssignmentManagerSource.java and MetricsMasterSourceImpl.java.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "checks/hbase_jmx.h"
#include "tests/fixture.h"

namespace faultline {
namespace {

nlohmann::json Fixture(const std::string& name) {
  return nlohmann::json::parse(testing::ReadFixture("hbase/jmx/" + name));
}

TEST(HBaseJmx, RitCountIsReadFromTheAssignmentManagerBean) {
  int64_t rit = -1;
  ASSERT_TRUE(DecodeHBaseRitCount(Fixture("assignment-manager.json"), &rit).ok());
  EXPECT_EQ(rit, 3);
}

TEST(HBaseJmx, RitCountIsReadFromHBase1sMisspelledBean) {
  int64_t rit = -1;
  ASSERT_TRUE(DecodeHBaseRitCount(Fixture("assignment-manager-hbase1.json"), &rit).ok());
  EXPECT_EQ(rit, 0);
}

TEST(HBaseJmx, NoAssignmentManagerBeanIsUnavailableNamingTheBean) {
  int64_t rit = -1;
  Status st = DecodeHBaseRitCount(Fixture("no-beans.json"), &rit);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "no bean Hadoop:service=HBase,name=Master,sub=AssignmentManager in the answer");
  EXPECT_EQ(rit, -1);
  st = DecodeHBaseRitCount(Fixture("master-server.json"), &rit);
  EXPECT_EQ(st.message(), "no bean Hadoop:service=HBase,name=Master,sub=AssignmentManager in the answer");
}

TEST(HBaseJmx, DeadServersAreTheTagSplitOnSemicolons) {
  HBaseDeadServers d;
  ASSERT_TRUE(DecodeHBaseDeadServers(Fixture("master-server.json"), &d).ok());
  EXPECT_EQ(d.count, 2);
  EXPECT_EQ(d.server_names,
            (std::vector<std::string>{"rs2.example.com,16020,1764871230001", "rs4.example.com,16020,1764871230999"}));
}

TEST(HBaseJmx, AnEmptyDeadServersTagIsNoDeadServer) {
  HBaseDeadServers d;
  d.count = 7;
  ASSERT_TRUE(DecodeHBaseDeadServers(Fixture("master-server-no-dead.json"), &d).ok());
  EXPECT_EQ(d.count, 0);
  EXPECT_TRUE(d.server_names.empty());
}

// A stopping master's Server bean keeps only its counters (MetricsMasterSourceImpl publishes
// the gauges and tags while the master runs): that is not "no dead servers".
TEST(HBaseJmx, AServerBeanWithoutTheDeadServerAttributesIsUnavailable) {
  HBaseDeadServers d;
  Status st = DecodeHBaseDeadServers(Fixture("master-server-stopping.json"), &d);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "no attribute numDeadRegionServers in bean Hadoop:service=HBase,name=Master,sub=Server");
  nlohmann::json only_count = Fixture("master-server-stopping.json");
  only_count["beans"][0]["numDeadRegionServers"] = 1;
  st = DecodeHBaseDeadServers(only_count, &d);
  EXPECT_EQ(st.message(), "no attribute tag.deadRegionServers in bean Hadoop:service=HBase,name=Master,sub=Server");
}

TEST(HBaseJmx, AnAnswerWithoutBeansIsInvalid) {
  HBaseDeadServers d;
  Status st = DecodeHBaseDeadServers(nlohmann::json::parse(R"({"result":"ERROR"})"), &d);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_EQ(st.message(), "not a JMX servlet answer (no \"beans\" list)");
}

TEST(HBaseJmx, UrlOfTheInfoServer) {
  EXPECT_EQ(HBaseMasterJmxUrl("hm1.example.com", kHBaseMasterInfoPort), "http://hm1.example.com:16010/jmx");
  EXPECT_EQ(HBaseMasterJmxUrl("fd00::1", 16010), "http://[fd00::1]:16010/jmx");
}

TEST(HBaseJmx, AClosedInfoPortIsUnavailableNamingTheUrl) {
  nlohmann::json answer;
  // Port 1 on loopback: nothing listens there.
  Status st = ReadJmxQuery("http://127.0.0.1:1/jmx", kHBaseMasterServerBean, std::chrono::milliseconds(1000), &answer);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("http://127.0.0.1:1/jmx?qry=Hadoop:service=HBase,name=Master,sub=Server"),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace faultline

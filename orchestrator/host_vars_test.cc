#include "orchestrator/host_vars.h"

#include <gtest/gtest.h>

namespace faultline {
namespace {

using nlohmann::json;

const json kVars = {{"faultline_data_dir", "/data/zk1"},
                    {"zookeeper_client_port", 2181},
                    {"faultline_logs", {{"zkfc", "/var/log/zkfc.log"}}},
                    {"peers", json::array({"zk2", "zk3"})}};

TEST(HostVars, WholeStringKeepsType) {
  json p = {{"path", "${host.faultline_data_dir}"}, {"port", "${host.zookeeper_client_port}"},
            {"peers", "${host.peers}"}};
  ASSERT_TRUE(ExpandHostVars(&p, kVars).ok());
  EXPECT_EQ(p["path"], "/data/zk1");
  EXPECT_EQ(p["port"], 2181);
  EXPECT_EQ(p["peers"], json::array({"zk2", "zk3"}));
}

TEST(HostVars, SplicedIntoTextAndNested) {
  json p = {{"inject", json::array({"zkcli", "-server", "${host.faultline_data_dir}:${host.zookeeper_client_port}"})},
            {"log", "${host.faultline_logs.zkfc}"}};
  ASSERT_TRUE(ExpandHostVars(&p, kVars).ok());
  EXPECT_EQ(p["inject"][2], "/data/zk1:2181");
  EXPECT_EQ(p["log"], "/var/log/zkfc.log");
}

TEST(HostVars, OtherReferencesAreLeftForTheEngine) {
  json p = {{"host", "${target}"}};
  ASSERT_TRUE(ExpandHostVars(&p, kVars).ok());
  EXPECT_EQ(p["host"], "${target}");
}

TEST(HostVars, MissingVariableIsNamed) {
  json p = {{"path", "${host.zookeeper_data_dir}"}};
  Status st = ExpandHostVars(&p, kVars);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_EQ(st.message(), "${host.zookeeper_data_dir}: the host has no inventory variable 'zookeeper_data_dir'");
  json q = {{"path", "${host.faultline_logs.hdfs}"}};
  EXPECT_FALSE(ExpandHostVars(&q, kVars).ok());
  json r = {{"path", "x${host.faultline_data_dir"}};
  EXPECT_FALSE(ExpandHostVars(&r, kVars).ok());
}

}  // namespace
}  // namespace faultline

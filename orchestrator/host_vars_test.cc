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

Inventory PeersInventory() {
  Inventory inv;
  EXPECT_TRUE(LoadInventoryText("[zookeeper]\nzk1 ansible_host=10.9.0.1\nzk2 ansible_host=10.9.0.2\n"
                                "zk3 ansible_host=10.9.0.3\n[namenode]\nnn1 ansible_host=10.9.0.8\n"
                                "[local]\nlo1 ansible_host=localhost\n",
                                "hosts.ini", &inv)
                  .ok());
  return inv;
}

TEST(ResolvePeers, GroupsHostsAndAddressesBecomeAddressesButNotTheTargetItself) {
  Inventory inv = PeersInventory();
  json p = {{"peers", json::array({"zookeeper", "nn1", "192.168.7.0/24", "zk2"})}};
  ASSERT_TRUE(ResolvePeers(&p, inv, "zk1").ok());
  EXPECT_EQ(p["peers"], json::array({"10.9.0.2", "10.9.0.3", "10.9.0.8", "192.168.7.0/24"}));
  json one = {{"peers", "zookeeper"}};
  ASSERT_TRUE(ResolvePeers(&one, inv, "zk3").ok());
  EXPECT_EQ(one["peers"], json::array({"10.9.0.1", "10.9.0.2"}));
  json name = {{"peers", "lo1"}};
  ASSERT_TRUE(ResolvePeers(&name, inv, "zk1").ok());
  EXPECT_EQ(name["peers"], json::array({"127.0.0.1"})) << "a name is resolved on the controller";
}

TEST(ResolvePeers, TheTargetsGrudgeEntryIsResolved) {
  Inventory inv = PeersInventory();
  json p = {{"grudge", {{"zk1", json::array({"zk2"})}, {"zk2", json::array({"zk1"})}}}};
  ASSERT_TRUE(ResolvePeers(&p, inv, "zk1").ok());
  EXPECT_EQ(p["grudge"]["zk1"], json::array({"10.9.0.2"}));
  EXPECT_EQ(p["grudge"]["zk2"], json::array({"zk1"})) << "other hosts' entries are theirs to resolve";
}

TEST(ResolvePeers, AnUnknownNameIsNamed) {
  Inventory inv = PeersInventory();
  json p = {{"peers", json::array({"zookeepr"})}};
  Status st = ResolvePeers(&p, inv, "zk1");
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("'zookeepr' is neither a host nor a group of hosts.ini"), std::string::npos)
      << st.message();
  json bad = {{"peers", json::array({"10.0.0.1/40"})}};
  EXPECT_FALSE(ResolvePeers(&bad, inv, "zk1").ok()) << "a CIDR with more than 32 bits is not an address";
}

}  // namespace
}  // namespace faultline

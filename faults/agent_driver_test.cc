// The controller side's translation of a resolved fault into the agent's parameters, and
// the catalogue entries the drill parser validates against.
#include "faults/agent_driver.h"

#include <gtest/gtest.h>

namespace faultline {
namespace {

using nlohmann::json;

FaultInstance Fault(const std::string& action, json params, json vars) {
  FaultInstance f;
  f.run_id = "r1";
  f.fault = "f1";
  f.action = action;
  f.host = "zk1";
  f.params = std::move(params);
  f.host_vars = std::move(vars);
  return f;
}

TEST(AgentParams, ProcessResolvesThroughTheInventoryAndItsServiceRestart) {
  json vars = {{"faultline_processes", {{"zookeeper", {{"match", "QuorumPeerMain"}, {"service", "zk"}}}}},
               {"faultline_services", {{"zk", {{"start", "/opt/zk/bin/zkServer.sh start"},
                                               {"stop", {"/opt/zk/bin/zkServer.sh", "stop"}}}}}}};
  json p;
  ASSERT_TRUE(AgentParams(Fault("process.kill", {{"process", "zookeeper"}, {"signal", "KILL"}}, vars), &p).ok());
  EXPECT_EQ(p["match"], "QuorumPeerMain");
  EXPECT_EQ(p["signal"], "KILL");
  EXPECT_EQ(p["restart"], json({"/opt/zk/bin/zkServer.sh", "start"}));
}

TEST(AgentParams, UnknownProcessIsInvalidAndNamesTheHost) {
  json p;
  Status st = AgentParams(Fault("process.pause", {{"process", "nope"}}, json::object()), &p);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("zk1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nope"), std::string::npos) << st.message();
}

TEST(AgentParams, ServiceCommandsBecomeArgvLists) {
  json vars = {{"faultline_services", {{"hdfs-nn", {{"start", "systemd-run --unit nn 'my nn'"},
                                                    {"stop", "kill-nn"}}}}}};
  json p;
  ASSERT_TRUE(AgentParams(Fault("service.stop", {{"service", "hdfs-nn"}}, vars), &p).ok());
  EXPECT_EQ(p["start"], json({"systemd-run", "--unit", "nn", "my nn"}));
  EXPECT_EQ(p["stop"], json({"kill-nn"}));
}

TEST(AgentParams, GrudgePicksThisHostsPeers) {
  json grudge = {{"zk1", {"10.202.0.2", "10.202.0.3"}}, {"zk2", {"10.202.0.1"}}};
  json p;
  ASSERT_TRUE(AgentParams(Fault("network.partition", {{"grudge", grudge}}, json::object()), &p).ok());
  EXPECT_EQ(p["peers"], json({"10.202.0.2", "10.202.0.3"}));
  EXPECT_FALSE(p.contains("grudge"));
}

TEST(AgentParams, ResolvedPeerAddressesReplaceNames) {
  json p;
  ASSERT_TRUE(AgentParams(Fault("network.delay", {{"latency", "50ms"}, {"peers", {"zk2"}},
                                                  {"peer_addresses", {"10.202.0.2"}}},
                                json::object()),
                          &p)
                  .ok());
  EXPECT_EQ(p["peers"], json({"10.202.0.2"}));
}

TEST(AgentCatalogue, EveryActionIsRegisteredWithItsParameters) {
  RegisterAgentFaults();
  auto& c = FaultCatalogue::Global();
  for (const char* a : {"network.partition", "network.delay", "network.loss", "network.rate",
                        "process.pause", "process.resume", "process.kill", "service.stop",
                        "service.start", "disk.fill"}) {
    const FaultActionInfo* info = c.Find(a);
    ASSERT_NE(info, nullptr) << a;
    EXPECT_FALSE(info->params.empty()) << a;
    EXPECT_NE(c.MakeDriver(a), nullptr) << a;
  }
  EXPECT_TRUE(c.Find("network.partition")->removes_host);
  EXPECT_TRUE(c.Find("process.kill")->removes_host);
  EXPECT_FALSE(c.Find("network.delay")->removes_host);
  const FaultActionInfo* kill = c.Find("process.kill");
  bool has_process = false;
  for (const auto& p : kill->params) has_process |= p.name == "process" && p.required && p.refers_to == "process";
  EXPECT_TRUE(has_process);
}

}  // namespace
}  // namespace faultline

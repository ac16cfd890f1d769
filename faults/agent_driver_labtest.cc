// The AgentDriver end to end through the local transport into a namespace: the agent is
// uploaded once, faults go through FaultCatalogue's drivers, leases are renewed by
// KeepAlive, and status/cleanup see what the agent holds.
#include "faults/agent_driver.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "faults/agent_labtest_util.h"
#include "faults/local_transport.h"

namespace faultline::fla {
namespace {

using nlohmann::json;

TEST(AgentDriverLab, InjectRenewRevertThroughTheLocalTransport) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_FALSE(AgentBinary().empty());
  setenv("FAULTLINE_AGENT_BINARY", AgentBinary().c_str(), 1);
  Lab lab;
  ASSERT_TRUE(lab.ok);
  Child srv = StartIn(lab.ns(1), [] { TcpEchoServer(23100); });
  StateDir dir("driver");
  StateDir home("home");
  std::filesystem::create_directories(home.path);
  // The agent is uploaded under $HOME/.cache/faultline of the "remote" user.
  std::string old_home = getenv("HOME") ? getenv("HOME") : "";
  setenv("HOME", home.path.c_str(), 1);
  struct RestoreHome {
    std::string h;
    ~RestoreHome() { setenv("HOME", h.c_str(), 1); }
  } restore{old_home};
  CleanupOnExit cleanup{lab.ns(0), dir.path};
  std::string before = NetSnapshot(lab.ns(0));

  LocalTransport t("a", lab.ns(0));
  FaultInstance f;
  f.run_id = "drv";
  f.fault = "cut";
  f.action = "network.partition";
  f.host = "a";
  f.params = {{"peers", {Lab::addr(1)}}};
  f.host_vars = {{"faultline_agent_state_dir", dir.path}, {"faultline_agent_lease", "3s"}};
  RegisterAgentFaults();
  auto driver = FaultCatalogue::Global().MakeDriver("network.partition");
  ASSERT_NE(driver, nullptr);
  InjectOutcome out;
  Status st = driver->Inject(f, t, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  int uploaded = 0;
  for (const auto& e : std::filesystem::directory_iterator(home.path + "/.cache/faultline")) {
    if (e.path().filename().string().rfind("agent-0.1.0-", 0) == 0) ++uploaded;
  }
  EXPECT_EQ(uploaded, 1);
  EXPECT_NE(out.detail.find("partition"), std::string::npos) << out.detail;
  EXPECT_EQ(RunIn(lab.ns(0), [] { return TcpConnect(Lab::addr(1), 23100); }), 1);

  // KeepAlive renews, as the engine calls it every ~second: the fault outlives several
  // leases.
  std::atomic<bool> renewing{true};
  std::thread keepalive([&] {
    while (renewing) {
      driver->KeepAlive();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  struct StopRenewing {
    std::atomic<bool>& flag;
    std::thread& t;
    ~StopRenewing() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } stop_renewing{renewing, keepalive};
  std::this_thread::sleep_for(std::chrono::milliseconds(7000));
  EXPECT_EQ(RunIn(lab.ns(0), [] { return TcpConnect(Lab::addr(1), 23100); }), 1);

  json held;
  st = AgentListFaults(t, f.host_vars, &held);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]["fault"], "cut");

  std::string detail;
  st = driver->Revert(f, t, &detail);
  renewing = false;
  keepalive.join();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(RunIn(lab.ns(0), [] { return TcpConnect(Lab::addr(1), 23100); }), 0);
  EXPECT_EQ(NetSnapshot(lab.ns(0)), before);

  // cleanup reverts what another run left behind, and only that.
  f.run_id = "left-behind";
  ASSERT_TRUE(driver->Inject(f, t, &out).ok());
  json reverted;
  ASSERT_TRUE(AgentCleanup(t, f.host_vars, &reverted).ok());
  EXPECT_EQ(reverted, json({"left-behind:cut"}));
  EXPECT_EQ(NetSnapshot(lab.ns(0)), before);
}

}  // namespace
}  // namespace faultline::fla

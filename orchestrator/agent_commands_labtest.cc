// `faultline status` and `faultline cleanup` against agents in network namespaces: a fault
// left behind by a dead run is listed, then reverted, and nothing else is touched.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "faults/agent_labtest_util.h"
#include "orchestrator/commands.h"
#include "orchestrator/registry.h"

namespace faultline::fla {
namespace {

std::string CaptureStdout(const std::function<int()>& fn, int* rc) {
  std::fflush(stdout);
  char tmpl[] = "/tmp/fla-out-XXXXXX";
  int fd = mkstemp(tmpl);
  int saved = dup(1);
  dup2(fd, 1);
  *rc = fn();
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(fd);
  std::string text;
  std::getline(std::ifstream(tmpl), text, '\0');
  std::filesystem::remove(tmpl);
  return text;
}

TEST(AgentCommands, StatusListsAndCleanupRevertsWhatARunLeftBehind) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_FALSE(AgentBinary().empty());
  setenv("FAULTLINE_AGENT_BINARY", AgentBinary().c_str(), 1);
  RegisterEverything();
  Lab lab(2);
  ASSERT_TRUE(lab.ok);
  StateDir dir_a("cmd-a"), dir_b("cmd-b");
  CleanupOnExit guard_a{lab.ns(0), dir_a.path}, guard_b{lab.ns(1), dir_b.path};
  // A rule that is not faultline's must survive the cleanup.
  Sh("ip netns exec " + lab.ns(0) + " iptables -w -A INPUT -s 10.202.0.77 -j DROP");
  std::string before_a = NetSnapshot(lab.ns(0)), before_b = NetSnapshot(lab.ns(1));
  {
    AgentProc agent(lab.ns(0), dir_a.path);
    nlohmann::json r = agent.Call({{"op", "inject"}, {"run", "dead-run"}, {"fault", "cut"},
                                   {"action", "network.partition"},
                                   {"params", {{"peers", {Lab::addr(1)}}}}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
  }  // the "controller" goes without reverting; no lease was asked for
  ASSERT_NE(NetSnapshot(lab.ns(0)), before_a);

  std::string inv = dir_a.path + "-inventory.ini";
  std::ofstream(inv) << "[zookeeper]\n"
                     << "a faultline_transport=netns faultline_netns=" << lab.ns(0)
                     << " faultline_agent_state_dir=" << dir_a.path << "\n"
                     << "b faultline_transport=netns faultline_netns=" << lab.ns(1)
                     << " faultline_agent_state_dir=" << dir_b.path << "\n";
  struct RemoveFile {
    std::string p;
    ~RemoveFile() { std::filesystem::remove(p); }
  } rm{inv};

  int rc = -1;
  StatusOptions so;
  so.inventory = inv;
  so.json = true;
  std::string out = CaptureStdout([&] { return CmdStatus(so); }, &rc);
  EXPECT_EQ(rc, kExitOk) << out;
  auto status = nlohmann::json::parse(out.substr(out.find('{')));
  ASSERT_EQ(status["hosts"]["a"]["faults"].size(), 1u) << out;
  EXPECT_EQ(status["hosts"]["a"]["faults"][0]["run"], "dead-run");
  EXPECT_TRUE(status["hosts"]["b"]["faults"].empty()) << out;

  CleanupOptions co;
  co.inventory = inv;
  out = CaptureStdout([&] { return CmdCleanup(co); }, &rc);
  EXPECT_EQ(rc, kExitOk) << out;
  EXPECT_NE(out.find("a: reverted dead-run:cut"), std::string::npos) << out;
  EXPECT_NE(out.find("b: nothing held"), std::string::npos) << out;
  EXPECT_EQ(NetSnapshot(lab.ns(0)), before_a) << "the foreign DROP rule stays, faultline's are gone";
  EXPECT_EQ(NetSnapshot(lab.ns(1)), before_b);
}

}  // namespace
}  // namespace faultline::fla

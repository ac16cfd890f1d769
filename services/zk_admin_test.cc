// The AdminServer of a three-server ensemble with ZooKeeper's stock settings (Apache ZooKeeper,
// or quorumd when FAULTLINE_QUORUMD is set; the same expectations for both): srvr, stat and
// monitor answer in 3.8's JSON, the four-letter words other than srvr are refused with
// ZooKeeper's message, and the zk probes read the ensemble through the AdminServer with the
// exact values a healthy ensemble has. The admin.* zoo.cfg keys turn the server off and move
// its command URL on both.
#include <gtest/gtest.h>

#include "checks/zk_admin.h"
#include "checks/zk_fourlw.h"
#include "checks/zk_role_probes.h"
#include "services/testing.h"

namespace faultline {
namespace {

using testing::LocalContext;
using testing::SampleProbe;
using testing::WaitFor;
using testing::ZkEnsemble;

constexpr int kBase = 22280;
constexpr std::chrono::milliseconds kTimeout(3000);

ZkAdminEndpoint Endpoint(int port, const std::string& url = "/commands") {
  return ZkAdminEndpoint{"http://127.0.0.1:" + std::to_string(port) + url, ""};
}

Inventory EnsembleInventory(const ZkEnsemble& zk, int n) {
  testing::InventoryBuilder b;
  for (int i = 0; i < n; ++i) {
    b.Host("zk" + std::to_string(i + 1), "zookeeper",
           {{"ansible_host", "127.0.0.1"},
            {"zookeeper_client_port", zk.ClientPort(i)},
            {"zookeeper_admin_port", zk.AdminPort(i)}});
  }
  return b.Build();
}

class ZkAdminServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterRoleProbes(); }
};

TEST_F(ZkAdminServer, StockEnsembleIsReadThroughTheAdminServer) {
  ZkEnsemble zk(3, kBase);
  ASSERT_TRUE(zk.WaitReady());

  // Only srvr runs as a four-letter word.
  for (const char* word : {"mntr", "ruok", "stat", "conf"}) {
    std::string text;
    ASSERT_TRUE(SendFourLetterWord("127.0.0.1", zk.ClientPort(0), word, kTimeout, &text).ok()) << word;
    EXPECT_EQ(text, std::string(word) + " is not executed because it is not in the whitelist.\n");
  }

  int leaders = 0, followers = 0, leader = -1;
  for (int i = 0; i < 3; ++i) {
    nlohmann::json srvr;
    Status read = ReadAdminCommand(Endpoint(zk.AdminPort(i)), "srvr", kTimeout, &srvr);
    ASSERT_TRUE(read.ok()) << i << " " << read.ToString() << " " << zk.Log(i);
    EXPECT_EQ(srvr["command"], "server_stats");
    EXPECT_TRUE(srvr["error"].is_null());
    EXPECT_EQ(srvr["read_only"], false);
    EXPECT_TRUE(srvr["server_stats"]["last_processed_zxid"].is_number_integer());
    EXPECT_TRUE(srvr["server_stats"]["packets_received"].is_number_integer());
    EXPECT_TRUE(srvr["client_response"]["max_buffer_size"].is_number_integer());
    EXPECT_TRUE(srvr["node_count"].is_number_integer());
    ZkServerStatus st;
    ASSERT_TRUE(ParseAdminSrvr(srvr, &st).ok());
    EXPECT_TRUE(st.serving);
    if (st.mode == "leader") {
      ++leaders;
      leader = i;
    }
    followers += st.mode == "follower";

    nlohmann::json ruok;
    ASSERT_TRUE(ReadAdminCommand(Endpoint(zk.AdminPort(i)), "ruok", kTimeout, &ruok).ok());
    EXPECT_EQ(ruok, nlohmann::json::parse(R"({"command":"ruok","error":null})"));

    nlohmann::json stat;
    ASSERT_TRUE(ReadAdminCommand(Endpoint(zk.AdminPort(i)), "stat", kTimeout, &stat).ok());
    EXPECT_EQ(stat["command"], "stats");
    EXPECT_TRUE(stat["connections"].is_array());
    EXPECT_EQ(stat["secure_connections"], nlohmann::json::array());

    nlohmann::json unknown;
    ASSERT_TRUE(ReadAdminCommand(Endpoint(zk.AdminPort(i)), "no_such_command", kTimeout, &unknown).ok());
    EXPECT_EQ(unknown["error"], "Unknown command: no_such_command");
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(followers, 2);
  ASSERT_GE(leader, 0);

  nlohmann::json monitor;
  ASSERT_TRUE(ReadAdminCommand(Endpoint(zk.AdminPort(leader)), "monitor", kTimeout, &monitor).ok());
  EXPECT_EQ(monitor["command"], "monitor");
  EXPECT_EQ(monitor["server_state"], "leader");
  EXPECT_EQ(monitor["quorum_size"], 3);
  EXPECT_TRUE(monitor["avg_latency"].is_number());
  EXPECT_TRUE(monitor["znode_count"].is_number_integer());
  std::map<std::string, std::string> mntr;
  ASSERT_TRUE(ParseAdminMonitor(monitor, &mntr).ok());
  EXPECT_EQ(mntr["zk_server_state"], "leader");

  // A path outside the command URL is not found.
  nlohmann::json none;
  Status missing = ReadAdminCommand(Endpoint(zk.AdminPort(0), "/elsewhere"), "srvr", kTimeout, &none);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("404"), std::string::npos) << missing.ToString();

  // The probes read the refused words' figures from the AdminServer.
  Inventory inv = EnsembleInventory(zk, 3);
  LocalContext ctx(inv);
  ASSERT_TRUE(WaitFor([&] { return SampleProbe(ctx, "zk.followers").value == 2; }, 20000))
      << SampleProbe(ctx, "zk.followers").value << " " << SampleProbe(ctx, "zk.followers").error;
  EXPECT_EQ(SampleProbe(ctx, "zk.quorum").value, true);
  EXPECT_EQ(SampleProbe(ctx, "zk.quorum_size").value, 3);
  EXPECT_EQ(SampleProbe(ctx, "zk.leader").value, "zk" + std::to_string(leader + 1));
  EXPECT_EQ(SampleProbe(ctx, "zk.ruok").value, nlohmann::json({{"zk1", true}, {"zk2", true}, {"zk3", true}}));

  // A majority gone: the one left is not serving, and says so over HTTP too.
  int left = (leader + 1) % 3;
  for (int i = 0; i < 3; ++i) {
    if (i != left) zk.Stop(i);
  }
  ASSERT_TRUE(WaitFor([&] {
    nlohmann::json a;
    return ReadAdminCommand(Endpoint(zk.AdminPort(left)), "srvr", kTimeout, &a).ok() &&
           a["error"] == "This ZooKeeper instance is not currently serving requests";
  }, 30000));
  nlohmann::json srvr;
  ASSERT_TRUE(ReadAdminCommand(Endpoint(zk.AdminPort(left)), "srvr", kTimeout, &srvr).ok());
  ZkServerStatus st;
  ASSERT_TRUE(ParseAdminSrvr(srvr, &st).ok());
  EXPECT_FALSE(st.serving);
  EXPECT_EQ(SampleProbe(ctx, "zk.quorum").value, false);
  // The one left answers ruok over HTTP; the stopped ones cannot be read at all (null).
  nlohmann::json ruok = nlohmann::json::object();
  for (int i = 0; i < 3; ++i) ruok["zk" + std::to_string(i + 1)] = i == left ? nlohmann::json(true) : nlohmann::json();
  EXPECT_EQ(SampleProbe(ctx, "zk.ruok").value, ruok);
}

TEST_F(ZkAdminServer, ZooCfgKeysTurnItOffAndMoveItsCommandUrl) {
  {
    ZkEnsemble zk(1, kBase + 9, 250, "admin.enableServer=false\n");
    ASSERT_TRUE(zk.WaitReady());
    nlohmann::json a;
    Status st = ReadAdminCommand(Endpoint(zk.AdminPort(0)), "srvr", kTimeout, &a);
    EXPECT_FALSE(st.ok());
    // The probe names both the refused word and the AdminServer it could not read.
    Inventory inv = EnsembleInventory(zk, 1);
    LocalContext ctx(inv);
    Observation q = SampleProbe(ctx, "zk.ruok", {{"host", "zk1"}});
    EXPECT_TRUE(q.unreachable);
    EXPECT_NE(q.error.find("'ruok' is not in the server's 4lw.commands.whitelist"), std::string::npos) << q.error;
  }
  {
    ZkEnsemble zk(1, kBase + 9, 250, "admin.commandURL=/zkadmin\n");
    ASSERT_TRUE(zk.WaitReady());
    nlohmann::json a;
    Status read = ReadAdminCommand(Endpoint(zk.AdminPort(0), "/zkadmin"), "srvr", kTimeout, &a);
    ASSERT_TRUE(read.ok()) << read.ToString() << " " << zk.Log(0);
    EXPECT_EQ(a["server_stats"]["server_state"], "standalone");
    EXPECT_FALSE(ReadAdminCommand(Endpoint(zk.AdminPort(0)), "srvr", kTimeout, &a).ok());
  }
}

}  // namespace
}  // namespace faultline

// The official C client (libzookeeper-mt, through ZkClient) connected with the whole
// connection string of a three-server ensemble (Apache ZooKeeper, or quorumd when
// FAULTLINE_QUORUMD is set): when the server it is on dies, the session moves to another
// server in time and keeps its ephemeral znode, and writes go on.
#include <gtest/gtest.h>

#include "checks/zk_client.h"
#include "services/testing.h"

namespace faultline {
namespace {

using testing::WaitFor;
using testing::ZkEnsemble;

constexpr int kBase = 22270;

TEST(ZkClientFailover, SessionMovesWithItsEphemeralWhenItsServerDies) {
  ZkEnsemble zk(3, kBase);
  ASSERT_TRUE(zk.WaitReady());
  ZkClient::Options o;
  o.connect = zk.Connect();
  o.session_timeout = std::chrono::milliseconds(8000);
  ZkClient c(o);
  ASSERT_TRUE(c.Connect(std::chrono::milliseconds(20000)).ok());
  const long long session = c.session_id();
  ASSERT_NE(session, 0);
  ASSERT_EQ(c.Create("/failover-eph", "mine", true), ZkError::kOk);

  for (int round = 0; round < 2; ++round) {
    const std::string on = c.current_server();
    int index = -1;
    for (int i = 0; i < 3; ++i) {
      if (on == "127.0.0.1:" + std::to_string(zk.ClientPort(i))) index = i;
    }
    ASSERT_GE(index, 0) << "the session is on " << on;
    zk.Stop(index);
    bool moved = WaitFor([&] {
      return c.state() == ZkSessionState::kConnected && c.current_server() != on;
    }, 30000);
    ASSERT_TRUE(moved) << "round " << round << ": still " << ZkSessionStateName(c.state()) << " on "
                       << c.current_server();
    EXPECT_EQ(c.session_id(), session) << "the session changed instead of moving";
    // The first write after the move may meet an election still settling.
    Status why;
    bool wrote = WaitFor([&] {
      return c.Set("/failover-eph", "round " + std::to_string(round), -1, &why) == ZkError::kOk;
    }, 30000);
    EXPECT_TRUE(wrote) << why.ToString();
    std::string data;
    ZkStat stat;
    ASSERT_EQ(c.Get("/failover-eph", &data, &stat), ZkError::kOk);
    EXPECT_EQ(stat.ephemeral_owner, session);
    zk.Start(index);
    ASSERT_TRUE(zk.WaitReady());
  }
}

}  // namespace
}  // namespace faultline

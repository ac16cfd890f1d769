#include "coord/config.h"

#include <gtest/gtest.h>

namespace faultline::coord {
namespace {

TEST(Config, ReadsZooCfgAsZooKeeperDoes) {
  Config c;
  Status st = ParseConfigText(
      "# a comment\n"
      "tickTime=500\n"
      "initLimit=7\n"
      "syncLimit = 3\n"
      "dataDir=/tmp/flq-none\n"
      "clientPort=2199\n"
      "4lw.commands.whitelist=srvr, mntr ,ruok\n"
      "server.1=zk1:2888:3888\n"
      "server.2=10.0.0.2:2888:3888:participant\n"
      "server.3=zk3:2888:3888:observer;0.0.0.0:2181\n"
      "autopurge.snapRetainCount=5\n"
      "someFutureKey=1\n",
      "zoo.cfg", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.tick_time, 500);
  EXPECT_EQ(c.init_limit, 7);
  EXPECT_EQ(c.sync_limit, 3);
  EXPECT_EQ(c.client_port, 2199);
  EXPECT_EQ(c.MinSessionTimeout(), 1000);
  EXPECT_EQ(c.MaxSessionTimeout(), 10000);
  EXPECT_TRUE(c.FourLetterAllowed("mntr"));
  EXPECT_FALSE(c.FourLetterAllowed("conf"));
  ASSERT_EQ(c.servers.size(), 3u);
  EXPECT_EQ(c.servers.at(1).host, "zk1");
  EXPECT_EQ(c.servers.at(1).quorum_port, 2888);
  EXPECT_EQ(c.servers.at(1).election_port, 3888);
  EXPECT_FALSE(c.servers.at(2).observer);
  EXPECT_TRUE(c.servers.at(3).observer);
  EXPECT_EQ(c.servers.at(3).client_port, 2181);
  EXPECT_EQ(c.servers.at(3).client_host, "0.0.0.0");
  EXPECT_EQ(c.snap_retain_count, 5);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("zoo.cfg:12:"), std::string::npos);
  EXPECT_NE(c.warnings[0].find("someFutureKey"), std::string::npos);
}

TEST(Config, ErrorsNameTheLineAndWhatWasExpected) {
  Config c;
  Status st = ParseConfigText("dataDir=/x\ntickTime=fast\n", "zoo.cfg", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("zoo.cfg:2:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("integer"), std::string::npos);
  Config d;
  st = ParseConfigText("dataDir=/x\nserver.1=zk1:2888\n", "zoo.cfg", &d);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("host:quorumPort:electionPort"), std::string::npos) << st.message();
  Config e;
  st = ParseConfigText("clientPort=1\n", "zoo.cfg", &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("dataDir"), std::string::npos);
}

}  // namespace
}  // namespace faultline::coord

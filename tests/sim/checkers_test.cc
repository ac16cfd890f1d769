// The checkers must be able to fail: each is fed a history that breaks its invariant.
#include "tests/sim/checkers.h"

#include <gtest/gtest.h>

namespace faultline::sim {
namespace {

Txn T(zab::Zxid zxid, const std::string& payload) { return Txn{zxid, zab::TxnKind::kClient, 0, payload}; }

TEST(LeaderPerEpochChecker, FlagsTwoLeadersInOneEpoch) {
  LeaderPerEpochChecker c;
  std::vector<std::string> problems;
  c.OnLeaderServing(10, 1, 1, &problems);
  c.OnLeaderServing(20, 1, 1, &problems);  // the same leader again is fine
  c.OnLeaderServing(30, 2, 2, &problems);
  EXPECT_TRUE(problems.empty());
  c.OnLeaderServing(40, 3, 2, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "tick 40: two leaders in epoch 0x2: server 2 and server 3");
}

TEST(PrefixChecker, FlagsDivergentHistories) {
  PrefixChecker c;
  std::vector<std::string> problems;
  c.OnHistory(1, 1, {T(0x100000001, "a"), T(0x100000002, "b")}, false, &problems);
  c.OnHistory(2, 2, {T(0x100000001, "a")}, false, &problems);
  EXPECT_TRUE(problems.empty());
  c.OnHistory(3, 2, {T(0x100000001, "a"), T(0x200000001, "c")}, false, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "tick 3: server 2 committed 0x200000001 \"c\" at position 1 where another server committed "
            "0x100000002 \"b\"");
}

TEST(PrefixChecker, RechecksAReplacedHistory) {
  PrefixChecker c;
  std::vector<std::string> problems;
  c.OnHistory(1, 1, {T(1, "a"), T(2, "b")}, false, &problems);
  c.OnHistory(2, 2, {T(1, "a"), T(2, "b"), T(3, "c")}, false, &problems);
  c.OnHistory(3, 2, {T(1, "x"), T(2, "b"), T(3, "c")}, true, &problems);  // a bad snapshot
  EXPECT_EQ(problems.size(), 1u);
}

TEST(AckedWriteChecker, FlagsALeaderThatLostAnAcknowledgedWrite) {
  AckedWriteChecker c;
  std::vector<std::string> problems;
  c.OnAcked(5, "w1");
  c.OnLeaderServing(4, 1, {}, &problems);  // before the ack: nothing owed
  EXPECT_TRUE(problems.empty());
  c.OnLeaderServing(9, 2, {T(1, "w0")}, &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "tick 9: server 2 started leading without write w1 acknowledged at tick 5");
  problems.clear();
  c.CheckFinal(3, {T(1, "w1")}, &problems);
  EXPECT_TRUE(problems.empty());
}

TEST(LivenessChecker, FlagsNoProgressAfterFaultsStop) {
  LivenessChecker c(100);
  std::vector<std::string> problems;
  c.OnFaultsStopped(1000);
  c.OnAcked(1010, 990);  // submitted before the faults stopped: does not count
  c.Check(1100, &problems);
  EXPECT_TRUE(problems.empty());
  c.Check(1101, &problems);
  ASSERT_EQ(problems.size(), 1u);
  c.OnAcked(1050, 1020);
  problems.clear();
  c.Check(2000, &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(c.recovered_after(), 50);
}

}  // namespace
}  // namespace faultline::sim

#include "coord/zab/peer.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>

namespace faultline::zab {
namespace {

// A lossless, in-order network and instant disks: just enough to drive a few peers by hand.
class Harness : public SnapshotSource {
 public:
  explicit Harness(int voters, int observers = 0, bool auto_persist = true) : auto_persist_(auto_persist) {
    for (int i = 1; i <= voters + observers; ++i) {
      PeerConfig c;
      c.id = static_cast<ServerId>(i);
      for (int v = 1; v <= voters; ++v) c.voters.push_back(static_cast<ServerId>(v));
      for (int o = 1; o <= observers; ++o) c.observers.push_back(static_cast<ServerId>(voters + o));
      c.tick_ms = 50;
      c.tick_time_ms = 100;
      c.init_limit = 5;
      c.sync_limit = 2;
      c.finalize_wait_ms = 100;
      c.max_notification_interval_ms = 800;
      EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
      peers_[c.id] = std::make_unique<Peer>(c, DurableState{}, this);
      configs_[c.id] = c;
    }
  }

  // The server starts over from `ds`, as after a restart with that on its disk.
  void Replace(ServerId id, DurableState ds) { peers_[id] = std::make_unique<Peer>(configs_.at(id), std::move(ds), this); }

  SnapshotData TakeSnapshot() override { return {}; }

  Peer& peer(ServerId id) { return *peers_.at(id); }

  // Drains every Ready; persistence completes at once unless auto_persist is off.
  void Process() {
    for (bool any = true; any;) {
      any = false;
      for (auto& [id, p] : peers_) {
        if (down_.count(id)) continue;
        while (p->HasReady()) {
          any = true;
          Ready rd = p->TakeReady();
          for (Message& m : rd.messages) wire_.push_back(m);
          for (Txn& t : rd.commits) commits_[id].push_back(t);
          for (Event& e : rd.events) events_[id].push_back(e.text);
          touched_[id].insert(rd.touched_sessions.begin(), rd.touched_sessions.end());
          for (const Ready::SyncDone& s : rd.syncs) syncs_[id].push_back(s);
          if (rd.persist_id != 0) {
            if (auto_persist_) {
              p->OnPersisted(rd.persist_id);
            } else {
              unpersisted_[id].push_back(rd.persist_id);
            }
          }
        }
      }
    }
  }

  void Deliver() {
    Process();
    while (!wire_.empty()) {
      Message m = wire_.front();
      wire_.pop_front();
      if (!down_.count(m.to) && !down_.count(m.from)) peer(m.to).Step(m);
      Process();
    }
  }

  void Tick(int n) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, p] : peers_) {
        if (!down_.count(id)) p->Tick();
      }
      Deliver();
    }
  }

  void Elect() {
    Deliver();
    Tick(3);
  }

  std::deque<Message> wire_;
  std::map<ServerId, std::vector<Txn>> commits_;
  std::map<ServerId, std::vector<std::string>> events_;
  std::map<ServerId, std::multiset<uint64_t>> touched_;  // every Ready::touched_sessions
  std::map<ServerId, std::vector<uint64_t>> unpersisted_;
  std::map<ServerId, std::vector<Ready::SyncDone>> syncs_;  // every Ready::syncs
  std::set<ServerId> down_;

 private:
  bool auto_persist_;
  std::map<ServerId, std::unique_ptr<Peer>> peers_;
  std::map<ServerId, PeerConfig> configs_;
};

bool HasEvent(const std::vector<std::string>& events, const std::string& prefix) {
  for (const auto& e : events) {
    if (e.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

TEST(Zxid, EpochAndCounter) {
  Zxid z = MakeZxid(3, 7);
  EXPECT_EQ(EpochOf(z), 3u);
  EXPECT_EQ(CounterOf(z), 7u);
  EXPECT_EQ(ZxidHex(z), "0x300000007");
}

TEST(PeerConfig, SaysWhatIsWrong) {
  PeerConfig c;
  c.id = 4;
  c.voters = {1, 2, 3};
  EXPECT_EQ(c.Validate().message(), "server 4: not in its own ensemble (no server.4 line)");
  c.observers = {3};
  EXPECT_EQ(c.Validate().message(), "server 4: server 3 is listed as voter and observer");
  c.voters = {1, 2, 3, 4, 5, 6};
  c.observers = {};
  EXPECT_EQ(c.Quorum(), 4u);
}

TEST(Election, HighestIdWinsAmongEqualsAndServes) {
  Harness h(3);
  h.Elect();
  EXPECT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kFollowing);
  EXPECT_EQ(h.peer(2).Describe().state, ServerState::kFollowing);
  for (ServerId id : {1, 2, 3}) {
    EXPECT_TRUE(h.peer(id).Describe().serving) << id;
    EXPECT_EQ(h.peer(id).Describe().epoch, 1u) << id;
  }
  EXPECT_TRUE(HasEvent(h.events_[3], "LEADING - LEADER ELECTION TOOK - "));
  EXPECT_TRUE(HasEvent(h.events_[1], "FOLLOWING - LEADER ELECTION TOOK - "));
  EXPECT_TRUE(HasEvent(h.events_[1], "Notification: my state:LOOKING; n.sid:"));
  PeerStatus leader = h.peer(3).Describe();
  EXPECT_EQ(leader.peer_state, "leading - broadcast");
  EXPECT_EQ(leader.synced_followers, 2u);
  EXPECT_EQ(leader.learners, 2u);
  EXPECT_EQ(leader.pending_syncs, 0u);
  EXPECT_EQ(leader.diff_count, 2u);
  EXPECT_EQ(leader.quorum_size, 2u);
  EXPECT_EQ(leader.last_election_ms, 100);  // finalizeWait: 2 ticks of 50 ms
  EXPECT_EQ(h.peer(1).Describe().peer_state, "following - broadcast");
  EXPECT_GE(h.peer(1).Describe().last_sync_ms, 0);
}

// A server that acknowledged an epoch number for a leader that never got its quorum meets
// the leader that did get one, with the same epoch number: it cannot vote for that epoch
// again, but it follows and syncs (ZooKeeper's ACKEPOCH of -1) instead of failing, which
// would elect the same leader at once and fail again, for ever.
TEST(Election, ALearnerThatAcceptedTheEpochFromAnotherLeaderSyncsWithoutAVote) {
  Harness h(3);
  h.down_.insert(1);
  h.Elect();
  ASSERT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  ASSERT_EQ(h.peer(3).Describe().epoch, 1u);
  DurableState ds;
  ds.hard_state.accepted_epoch = 1;
  ds.hard_state.accepted_leader = 2;
  h.Replace(1, ds);
  h.down_.erase(1);
  h.Tick(20);
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kFollowing);
  EXPECT_TRUE(h.peer(1).Describe().serving);
  EXPECT_TRUE(HasEvent(h.events_[1], "Epoch 0x1 was accepted from leader 2; syncing with leader 3")) << h.events_[1].size();
  EXPECT_FALSE(HasEvent(h.events_[1], "Exception when following the leader"));
  EXPECT_EQ(h.peer(3).Describe().synced_followers, 2u);
  ASSERT_TRUE(h.peer(3).Propose("after").ok());
  h.Deliver();
  ASSERT_FALSE(h.commits_[1].empty());
  EXPECT_EQ(h.commits_[1].back().payload, "after");
}

TEST(Election, AnEnsembleOfOneLeadsItselfAndCommits) {
  Harness h(1);
  h.Elect();
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kLeading);
  ASSERT_TRUE(h.peer(1).Propose("solo").ok());
  h.Deliver();
  ASSERT_EQ(h.commits_[1].size(), 1u);
  EXPECT_EQ(h.commits_[1][0].zxid, MakeZxid(1, 1));
}

TEST(Election, NoLeaderWithoutAStrictMajority) {
  Harness h(4);  // 2 of 4 is not a majority
  h.down_ = {3, 4};
  h.Elect();
  h.Tick(40);
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kLooking);
  EXPECT_EQ(h.peer(2).Describe().state, ServerState::kLooking);
  EXPECT_TRUE(HasEvent(h.events_[1], "Notification time out: "));
}

TEST(Election, BetterLogBeatsHigherId) {
  Harness h(3);
  h.Elect();
  ASSERT_TRUE(h.peer(3).Propose("a").ok());
  h.Deliver();
  // Server 3 goes away; 1 and 2 hold the same log, so the higher id of the two leads next.
  h.down_ = {3};
  h.Tick(12);
  EXPECT_EQ(h.peer(2).Describe().state, ServerState::kLeading);
  EXPECT_EQ(h.peer(2).Describe().epoch, 2u);
}

TEST(Broadcast, FollowerAcksOnlyAfterItsRecordsAreDurable) {
  Harness h(3, 0, /*auto_persist=*/false);
  // Let elections and syncs persist; then take persistence into our own hands.
  h.Deliver();
  for (int round = 0; round < 30; ++round) {
    for (ServerId id : {1, 2, 3}) {
      for (uint64_t pid : h.unpersisted_[id]) h.peer(id).OnPersisted(pid);
      h.unpersisted_[id].clear();
    }
    h.Tick(1);
  }
  ASSERT_TRUE(h.peer(3).Describe().serving);
  ASSERT_TRUE(h.peer(3).Propose("x").ok());
  h.Process();
  // The leader sent PROPOSAL; follower 1 logs it but must not ACK before OnPersisted.
  std::vector<Message> proposals;
  for (const Message& m : h.wire_) {
    if (m.type == MsgType::kProposal) proposals.push_back(m);
  }
  ASSERT_EQ(proposals.size(), 2u);
  h.wire_.clear();
  h.peer(1).Step(proposals[0].to == 1 ? proposals[0] : proposals[1]);
  Ready rd = h.peer(1).TakeReady();
  ASSERT_EQ(rd.append.size(), 1u);
  ASSERT_NE(rd.persist_id, 0u);
  for (const Message& m : rd.messages) EXPECT_NE(m.type, MsgType::kAck);
  h.peer(1).OnPersisted(rd.persist_id);
  Ready after = h.peer(1).TakeReady();
  ASSERT_EQ(after.messages.size(), 1u);
  EXPECT_EQ(after.messages[0].type, MsgType::kAck);
  EXPECT_EQ(after.messages[0].zxid, MakeZxid(1, 1));
  // The leader has one ack but its own record is not durable: no commit yet.
  h.peer(3).Step(after.messages[0]);
  EXPECT_EQ(h.peer(3).Describe().commit_zxid, 0u);
  for (uint64_t pid : h.unpersisted_[3]) h.peer(3).OnPersisted(pid);
  h.unpersisted_[3].clear();
  Ready leader = h.peer(3).TakeReady();
  EXPECT_EQ(h.peer(3).Describe().commit_zxid, MakeZxid(1, 1));
  ASSERT_EQ(leader.commits.size(), 1u);
  EXPECT_EQ(leader.commits[0].payload, "x");
}

TEST(Broadcast, FollowersForwardWritesAndEveryoneCommitsInOrder) {
  Harness h(3);
  h.Elect();
  ASSERT_TRUE(h.peer(1).Propose("from-1").ok());
  ASSERT_TRUE(h.peer(3).Propose("from-3").ok());
  h.Deliver();
  h.Tick(2);  // pings carry the last commit point to everyone
  for (ServerId id : {1, 2, 3}) {
    ASSERT_EQ(h.commits_[id].size(), 2u) << id;
    EXPECT_EQ(h.commits_[id][0].payload, "from-3");
    EXPECT_EQ(h.commits_[id][1].payload, "from-1");
  }
}

TEST(Sync, ALearnersSyncCoversWhatTheLeaderHadProposedAndEndsAfterItsCommits) {
  Harness h(3);
  h.Elect();
  ASSERT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  // A proposal the followers have not heard of yet when the sync is asked.
  ASSERT_TRUE(h.peer(3).Propose("before-sync").ok());
  h.Process();
  Zxid proposed = h.peer(3).Describe().last_zxid;
  ASSERT_TRUE(h.peer(1).Sync(7).ok());
  h.Deliver();
  ASSERT_EQ(h.syncs_[1].size(), 1u);
  EXPECT_EQ(h.syncs_[1][0].id, 7u);
  EXPECT_TRUE(h.syncs_[1][0].ok);
  EXPECT_EQ(h.syncs_[1][0].zxid, proposed);
  h.Tick(2);
  ASSERT_FALSE(h.commits_[1].empty());
  EXPECT_EQ(h.commits_[1].back().zxid, proposed);
  // The leader answers its own clients' syncs at once, with its last proposed zxid.
  ASSERT_TRUE(h.peer(3).Sync(8).ok());
  h.Process();
  ASSERT_EQ(h.syncs_[3].size(), 1u);
  EXPECT_EQ(h.syncs_[3][0].zxid, proposed);
  // A sync is asked only of a serving server.
  Harness g(3);
  EXPECT_FALSE(g.peer(1).Sync(9).ok());
}

TEST(Sync, ALearnerThatStopsFollowingFailsTheSyncsItWasWaitingFor) {
  Harness h(3);
  h.Elect();
  ASSERT_TRUE(h.peer(1).Sync(11).ok());
  h.Process();  // the SYNC is on the wire, not delivered
  h.wire_.clear();
  h.down_ = {3};
  Message down;
  down.type = MsgType::kLinkDown;
  down.from = 3;
  down.to = 1;
  h.peer(1).Step(down);
  h.Process();
  ASSERT_EQ(h.syncs_[1].size(), 1u);
  EXPECT_EQ(h.syncs_[1][0].id, 11u);
  EXPECT_FALSE(h.syncs_[1][0].ok);
}

TEST(Sessions, OnlyTheLeaderClosesASessionThroughTheLog) {
  Harness h(3);
  h.Elect();
  Status refused = h.peer(1).ProposeCloseSession(0x42);
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  ASSERT_TRUE(h.peer(3).ProposeCloseSession(0x42).ok());
  h.Deliver();
  h.Tick(2);
  for (ServerId id : {1, 2, 3}) {
    ASSERT_EQ(h.commits_[id].size(), 1u);
    EXPECT_EQ(h.commits_[id][0].kind, TxnKind::kCloseSession);
    EXPECT_EQ(h.commits_[id][0].session, 0x42u);
  }
}

TEST(Sessions, LearnersReportTouchedSessionsToTheLeaderOnTheirPings) {
  Harness h(3, 1);  // 3 leads, 1 and 2 follow, 4 observes
  // Before anyone serves, a touch has nowhere to go.
  h.peer(1).TouchSessions({0x99});
  h.Elect();
  ASSERT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  ASSERT_TRUE(h.peer(1).Describe().serving);
  EXPECT_TRUE(h.touched_[3].empty());
  h.peer(1).TouchSessions({0x11, 0x10, 0x11});
  h.peer(1).TouchSessions({0x10});
  h.peer(2).TouchSessions({0x20, 0x11});
  h.peer(4).TouchSessions({0x40});
  h.peer(3).TouchSessions({0x30});  // the leader tracks its own sessions
  // Nothing goes until the leader pings (every tickTime / 2 = 1 tick here) and they answer.
  h.Deliver();
  EXPECT_TRUE(h.touched_[3].empty());
  h.Tick(1);
  // Each learner's list without repeats; 0x11 comes from both followers.
  EXPECT_EQ(h.touched_[3], (std::multiset<uint64_t>{0x10, 0x11, 0x11, 0x20, 0x40}));
  for (ServerId id : {1, 2, 4}) EXPECT_TRUE(h.touched_[id].empty()) << id;
  // Reported once: the next round carries nothing.
  h.touched_.clear();
  h.Tick(2);
  EXPECT_TRUE(h.touched_[3].empty());
  // A later touch goes with the next ping.
  h.peer(2).TouchSessions({0x21});
  h.Tick(1);
  EXPECT_EQ(h.touched_[3], (std::multiset<uint64_t>{0x21}));
}

TEST(Sessions, OneReadyNamesASessionOnce) {
  Harness h(3);
  h.Elect();
  h.peer(1).TouchSessions({0x5, 0x6});
  h.peer(2).TouchSessions({0x5});
  // One ping round by hand, both replies stepped into the leader before it hands out a Ready.
  std::vector<Message> pings;
  for (int i = 0; i < 2 && pings.empty(); ++i) {
    h.peer(3).Tick();
    for (const Message& m : h.peer(3).TakeReady().messages) {
      if (m.type == MsgType::kPing) pings.push_back(m);
    }
  }
  ASSERT_EQ(pings.size(), 2u);
  std::vector<Message> pongs;
  for (const Message& ping : pings) {
    h.peer(ping.to).Step(ping);
    for (const Message& m : h.peer(ping.to).TakeReady().messages) {
      if (m.type == MsgType::kPing) pongs.push_back(m);
    }
  }
  ASSERT_EQ(pongs.size(), 2u);
  for (const Message& pong : pongs) h.peer(3).Step(pong);
  EXPECT_EQ(h.peer(3).TakeReady().touched_sessions, (std::vector<uint64_t>{0x5, 0x6}));
}

TEST(Sessions, TouchesOnALookingServerGoNowhere) {
  Harness h(3);
  h.down_ = {2, 3};
  h.Elect();
  ASSERT_EQ(h.peer(1).Describe().state, ServerState::kLooking);
  h.peer(1).TouchSessions({0x1});
  EXPECT_FALSE(h.peer(1).HasReady());
  h.down_.clear();
  h.Tick(20);
  ASSERT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  ASSERT_EQ(h.peer(1).Describe().state, ServerState::kFollowing);
  for (ServerId id : {1, 2, 3}) EXPECT_TRUE(h.touched_[id].empty()) << id;
}

TEST(Sessions, TouchesShowInAPingsTraceLineOnlyWhenThere) {
  Message ping;
  ping.type = MsgType::kPing;
  ping.from = 1;
  ping.to = 3;
  ping.zxid = MakeZxid(1, 2);
  EXPECT_EQ(ping.ToString(), "1->3 PING commit=0x0 zxid=0x100000002");
  ping.sessions = {0x10, 0xabc};
  EXPECT_EQ(ping.ToString(), "1->3 PING commit=0x0 zxid=0x100000002 sessions=[0x10,0xabc]");
}

TEST(Observers, DoNotVoteButLearnCommits) {
  Harness h(3, 1);
  h.Elect();
  EXPECT_EQ(h.peer(4).Describe().state, ServerState::kObserving);
  EXPECT_TRUE(h.peer(4).Describe().serving);
  ASSERT_TRUE(h.peer(4).Propose("via-observer").ok());
  h.Deliver();
  ASSERT_EQ(h.commits_[4].size(), 1u);
  EXPECT_EQ(h.commits_[4][0].payload, "via-observer");
  // One voter and the observer are not a quorum of voters.
  h.down_ = {1, 2};
  h.Tick(20);
  EXPECT_EQ(h.peer(3).Describe().state, ServerState::kLooking);
  EXPECT_TRUE(HasEvent(h.events_[3], "Shutdown called. For the reason Not sufficient followers synced"));
}

TEST(Liveness, FollowerGoesLookingAfterSyncLimitOfSilence) {
  Harness h(3);
  h.Elect();
  h.down_ = {3};
  // syncLimit=2 ticks of tickTime=100ms = 4 core ticks of 50ms: still following at 4...
  h.Tick(4);
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kFollowing);
  h.Tick(1);
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kLooking);
  EXPECT_FALSE(h.peer(1).Describe().serving);
  EXPECT_TRUE(HasEvent(h.events_[1], "Exception when following the leader: read timed out after 200 ms"));
  EXPECT_EQ(h.peer(1).Propose("w").code(), Status::Code::kUnavailable);
}

TEST(Liveness, AClosedLinkFromTheLeaderEndsFollowingAtOnce) {
  Harness h(3);
  h.Elect();
  ASSERT_EQ(h.peer(3).Describe().state, ServerState::kLeading);
  Message down;
  down.type = MsgType::kLinkDown;
  down.from = 2;  // not the leader: nothing changes
  down.to = 1;
  h.peer(1).Step(down);
  h.Process();
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kFollowing);
  h.down_ = {3};
  down.from = 3;
  h.peer(1).Step(down);
  h.Process();
  EXPECT_EQ(h.peer(1).Describe().state, ServerState::kLooking);
  EXPECT_TRUE(HasEvent(h.events_[1], "Exception when following the leader: the connection from leader 3 closed"));
  // The leader forgets a learner whose link closed; with both gone it has no quorum.
  Harness g(3);
  g.Elect();
  for (ServerId from : {1, 2}) {
    Message m;
    m.type = MsgType::kLinkDown;
    m.from = from;
    m.to = 3;
    g.peer(3).Step(m);
  }
  g.down_ = {1, 2};
  g.Process();
  EXPECT_EQ(g.peer(3).Describe().learners, 0u);
  g.Tick(1);
  EXPECT_EQ(g.peer(3).Describe().state, ServerState::kLooking);
}

}  // namespace
}  // namespace faultline::zab

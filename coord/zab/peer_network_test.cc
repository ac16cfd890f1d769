// The peer network over loopback (ports 21700-21799): frames arrive whole and in order, and no
// peer, refused or black-holed, holds up the others. The last test runs whole elections over it.
#include "coord/zab/peer_network.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "coord/zab/codec.h"
#include "coord/zab/peer.h"

namespace faultline::zab {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<PeerEndpoint> Loopback(uint16_t base, int n) {
  std::vector<PeerEndpoint> out;
  for (int i = 1; i <= n; ++i) out.push_back({static_cast<ServerId>(i), "127.0.0.1", static_cast<uint16_t>(base + i - 1)});
  return out;
}

Message Note(ServerId from, ServerId to, uint64_t round) {
  Message m;
  m.type = MsgType::kNotification;
  m.from = from;
  m.to = to;
  m.vote.leader = from;
  m.vote.round = round;
  return m;
}

// Collects messages until `count` arrived or the deadline passes.
std::vector<Message> ReceiveN(PeerNetwork& net, size_t count, std::chrono::milliseconds within) {
  std::vector<Message> got;
  auto deadline = Clock::now() + within;
  while (got.size() < count && Clock::now() < deadline) {
    for (auto& m : net.Receive(20ms)) got.push_back(std::move(m));
  }
  return got;
}

// A listening socket whose accept queue is full and never drained: the kernel drops further
// SYNs, so a connect to it hangs, as to a host that is switched off. Closed by the destructor.
class BlackHole {
 public:
  explicit BlackHole(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 0) != 0) return;
    // Fill the queue; stop at the first connect that does not complete promptly.
    for (int i = 0; i < 8; ++i) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      fillers_.push_back(c);
      connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fd_set w;
      FD_ZERO(&w);
      FD_SET(c, &w);
      timeval tv{0, 200000};
      if (select(c + 1, nullptr, &w, nullptr, &tv) == 0) {
        holding_ = true;
        return;
      }
    }
  }
  ~BlackHole() {
    for (int c : fillers_) close(c);
    if (fd_ >= 0) close(fd_);
  }
  bool holding() const { return holding_; }

 private:
  int fd_ = -1;
  std::vector<int> fillers_;
  bool holding_ = false;
};

TEST(Codec, RoundTripsEveryField) {
  Message m;
  m.type = MsgType::kSnap;
  m.from = 3;
  m.to = 1;
  m.vote = Vote{2, MakeZxid(4, 5), 9, 4, ServerState::kFollowing};
  m.conn = (7ull << 32) | 2;
  m.seq = 11;
  m.epoch = 5;
  m.accepted_leader = 3;
  m.zxid = MakeZxid(5, 1);
  m.commit = MakeZxid(4, 9);
  m.txn = Txn{MakeZxid(5, 2), TxnKind::kCloseSession, 0x42, std::string("a\0b", 3)};
  m.snapshot = SnapshotData{MakeZxid(4, 9), std::string(1000, 'x')};
  Message back;
  ASSERT_TRUE(DecodeMessage(EncodeMessage(m), &back).ok());
  EXPECT_EQ(back.ToString(), m.ToString());
  EXPECT_EQ(back.txn, m.txn);
  EXPECT_EQ(back.snapshot.data, m.snapshot.data);
  EXPECT_EQ(back.conn, m.conn);
  EXPECT_TRUE(back.vote.SameAs(m.vote));
  EXPECT_EQ(back.vote.state, ServerState::kFollowing);
  m.type = MsgType::kSync;
  m.request = 0x8000000000000001ull;
  ASSERT_TRUE(DecodeMessage(EncodeMessage(m), &back).ok());
  EXPECT_EQ(back.request, m.request);
  EXPECT_EQ(back.ToString(), m.ToString());
}

TEST(Codec, SaysWhereAFrameBreaks) {
  std::string bytes = EncodeMessage(Note(1, 2, 3));
  Message m;
  Status st = DecodeMessage(std::string_view(bytes).substr(0, 20), &m);
  EXPECT_EQ(st.message(), "peer message: truncated vote.leader at byte 18: need 8, have 2");
  EXPECT_EQ(DecodeMessage(bytes + "zz", &m).message(), "peer message: 2 stray bytes after the end");
  bytes[1] = 99;
  EXPECT_EQ(DecodeMessage(bytes, &m).message(), "peer message: unknown type 99");
}

TEST(Codec, RoundTripsAPingsSessions) {
  Message m;
  m.type = MsgType::kPing;
  m.from = 1;
  m.to = 3;
  m.conn = (1ull << 32) | 1;
  m.seq = 4;
  m.leader_epoch = 1;
  m.zxid = MakeZxid(1, 7);
  m.sessions = {0x10, 0x1234567890abcdefull, 0};
  Message back;
  ASSERT_TRUE(DecodeMessage(EncodeMessage(m), &back).ok());
  EXPECT_EQ(back.sessions, m.sessions);
  EXPECT_EQ(back.ToString(), m.ToString());
  m.sessions.clear();
  ASSERT_TRUE(DecodeMessage(EncodeMessage(m), &back).ok());
  EXPECT_TRUE(back.sessions.empty());
}

TEST(Codec, ASessionCountBeyondTheFrameIsAnError) {
  Message ping;
  ping.type = MsgType::kPing;
  ping.from = 1;
  ping.to = 3;
  ping.sessions = {0x10, 0x11};
  std::string bytes = EncodeMessage(ping);
  // The session list, then the 8-byte request id, end the frame.
  const size_t count_at = bytes.size() - 8 - 4 - 2 * 8;
  Message m;
  // One id short (and no request id).
  Status st = DecodeMessage(std::string_view(bytes).substr(0, bytes.size() - 16), &m);
  EXPECT_EQ(st.message(), "peer message: truncated sessions at byte " + std::to_string(count_at + 4) +
                              ": need 16, have 8");
  // A count of 2^32-1 in a frame with 24 bytes left: refused before anything is allocated.
  for (size_t i = 0; i < 4; ++i) bytes[count_at + i] = '\xff';
  st = DecodeMessage(bytes, &m);
  EXPECT_EQ(st.message(), "peer message: truncated sessions at byte " + std::to_string(count_at + 4) +
                              ": need 34359738360, have 24");
  // The count itself cut short.
  st = DecodeMessage(std::string_view(bytes).substr(0, count_at + 2), &m);
  EXPECT_EQ(st.message(), "peer message: truncated sessions at byte " + std::to_string(count_at) +
                              ": need 4, have 2");
}

TEST(PeerNetwork, DeliversInOrderBetweenThreePeers) {
  auto members = Loopback(21700, 3);
  std::vector<std::unique_ptr<PeerNetwork>> nets;
  for (ServerId id = 1; id <= 3; ++id) {
    nets.push_back(std::make_unique<PeerNetwork>(id, members));
    ASSERT_TRUE(nets.back()->Start().ok());
  }
  for (uint64_t round = 1; round <= 50; ++round) {
    nets[0]->Send(Note(1, 2, round));
    nets[0]->Send(Note(1, 3, round));
    nets[2]->Send(Note(3, 2, round));
  }
  std::vector<Message> at2 = ReceiveN(*nets[1], 100, 5s);
  ASSERT_EQ(at2.size(), 100u);
  uint64_t from1 = 0, from3 = 0;
  for (const Message& m : at2) {
    uint64_t& last = m.from == 1 ? from1 : from3;
    EXPECT_EQ(m.vote.round, last + 1) << "from " << m.from;
    last = m.vote.round;
  }
  EXPECT_EQ(ReceiveN(*nets[2], 50, 5s).size(), 50u);
  EXPECT_EQ(nets[1]->Stats()[1].frames_received, 50u);
}

TEST(PeerNetwork, AnUnreachablePeerDoesNotHoldUpTheOthers) {
  auto members = Loopback(21710, 4);  // 3 is refused (nothing listens), 4 is a black hole
  BlackHole hole(21713);
  if (!hole.holding()) GTEST_SKIP() << "this kernel completes connects to a full accept queue";
  PeerNetworkOptions options;
  options.connect_timeout = 3000ms;
  PeerNetwork one(1, members, options), two(2, members, options);
  ASSERT_TRUE(one.Start().ok());
  ASSERT_TRUE(two.Start().ok());
  // The unreachable peers come first, as the decommissioned servers did in the incident.
  one.Send(Note(1, 4, 1));
  one.Send(Note(1, 3, 1));
  auto start = Clock::now();
  one.Send(Note(1, 2, 1));
  std::vector<Message> got = ReceiveN(two, 1, 2s);
  auto took = Clock::now() - start;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LT(took, 1000ms) << "a frame to a live peer waited behind a dead one";
  // The refusal from 3 is reported asynchronously; give it a moment.
  auto stats = one.Stats();
  for (auto until = Clock::now() + 1s; stats[3].connect_failures == 0 && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
    stats = one.Stats();
  }
  EXPECT_FALSE(stats[4].connected);
  EXPECT_EQ(stats[4].connect_failures, 0u) << "the black hole's connect should still be pending";
  EXPECT_TRUE(stats[2].connected);
  EXPECT_GE(stats[3].connect_failures, 1u);
}

TEST(PeerNetwork, APeerThatComesUpLaterGetsWhatIsSentThen) {
  auto members = Loopback(21720, 2);
  PeerNetworkOptions options;
  options.retry_interval = 50ms;
  PeerNetwork one(1, members, options);
  ASSERT_TRUE(one.Start().ok());
  one.Send(Note(1, 2, 1));
  std::this_thread::sleep_for(200ms);
  EXPECT_GE(one.Stats()[2].connect_failures, 1u);
  PeerNetwork two(2, members, options);
  ASSERT_TRUE(two.Start().ok());
  one.Send(Note(1, 2, 2));
  std::vector<Message> got = ReceiveN(two, 2, 3s);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().vote.round, 2u);
}

// A leader queues a whole DIFF (thousands of proposals and commits) at once, often before
// the connection to a restarted learner is made: none of it may be dropped.
TEST(PeerNetwork, ASyncSizedBurstToAPeerStillConnectingArrivesWhole) {
  auto members = Loopback(21727, 2);
  PeerNetworkOptions options;
  options.retry_interval = 50ms;
  PeerNetwork one(1, members, options);
  ASSERT_TRUE(one.Start().ok());
  for (uint64_t round = 1; round <= 5000; ++round) one.Send(Note(1, 2, round));
  std::this_thread::sleep_for(100ms);
  PeerNetwork two(2, members, options);
  ASSERT_TRUE(two.Start().ok());
  std::vector<Message> got = ReceiveN(two, 5000, 10s);
  ASSERT_EQ(got.size(), 5000u);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].vote.round, i + 1);
  EXPECT_EQ(one.Stats()[2].frames_dropped, 0u);
}

TEST(PeerNetwork, APeerThatStopsIsReportedAsALinkDown) {
  auto members = Loopback(21725, 2);
  PeerNetwork one(1, members);
  ASSERT_TRUE(one.Start().ok());
  auto two = std::make_unique<PeerNetwork>(2, members);
  ASSERT_TRUE(two->Start().ok());
  two->Send(Note(2, 1, 1));
  ASSERT_EQ(ReceiveN(one, 1, 3s).size(), 1u);
  two->Stop();
  std::vector<Message> got = ReceiveN(one, 1, 3s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, MsgType::kLinkDown);
  EXPECT_EQ(got[0].from, 2u);
  EXPECT_EQ(got[0].to, 1u);
}

// Three live voters of four (the fourth a black hole) elect a leader and commit a write over
// real sockets; each server is a thread driving its Peer like quorumd does.
TEST(PeerNetwork, EnsembleElectsAndCommitsWithAPeerBlackHoled) {
  auto members = Loopback(21730, 4);
  BlackHole hole(21733);
  struct Server : SnapshotSource {
    SnapshotData TakeSnapshot() override { return {}; }
    std::unique_ptr<Peer> peer;
    std::unique_ptr<PeerNetwork> net;
    std::vector<Txn> applied;
    std::vector<std::string> events;
  };
  std::vector<std::unique_ptr<Server>> servers;
  for (ServerId id = 1; id <= 3; ++id) {
    auto s = std::make_unique<Server>();
    PeerConfig c;
    c.id = id;
    c.voters = {1, 2, 3, 4};
    c.tick_ms = 20;
    c.tick_time_ms = 100;
    c.init_limit = 10;
    c.sync_limit = 5;
    c.incarnation = 1;
    s->peer = std::make_unique<Peer>(c, DurableState{}, s.get());
    s->net = std::make_unique<PeerNetwork>(id, members);
    ASSERT_TRUE(s->net->Start().ok());
    servers.push_back(std::move(s));
  }
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards every Server's peer and applied list against the test's reads
  std::vector<std::thread> threads;
  for (auto& sp : servers) {
    Server* s = sp.get();
    threads.emplace_back([s, &stop, &mu] {
      auto next_tick = Clock::now();
      while (!stop) {
        std::vector<Message> in = s->net->Receive(5ms);
        std::lock_guard<std::mutex> lock(mu);
        for (const Message& m : in) s->peer->Step(m);
        if (Clock::now() >= next_tick) {
          s->peer->Tick();
          next_tick += 20ms;
        }
        while (s->peer->HasReady()) {
          Ready rd = s->peer->TakeReady();
          if (rd.persist_id) s->peer->OnPersisted(rd.persist_id);  // no disk in this test
          for (const Message& m : rd.messages) s->net->Send(m);
          for (Txn& t : rd.commits) s->applied.push_back(std::move(t));
          for (Event& e : rd.events) s->events.push_back(e.text);
        }
      }
    });
  }
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads) t.join();
    }
  } joiner{stop, threads};

  auto deadline = Clock::now() + 10s;
  ServerId leader = 0;
  while (Clock::now() < deadline && leader == 0) {
    std::this_thread::sleep_for(20ms);
    std::lock_guard<std::mutex> lock(mu);
    for (auto& s : servers) {
      PeerStatus st = s->peer->Describe();
      if (st.state == ServerState::kLeading && st.serving) leader = s->peer->id();
    }
  }
  ASSERT_NE(leader, 0u) << "no leader within 10 s";
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_TRUE(servers[leader - 1]->peer->Propose("hello").ok());
  }
  bool everywhere = false;
  while (Clock::now() < deadline && !everywhere) {
    std::this_thread::sleep_for(20ms);
    std::lock_guard<std::mutex> lock(mu);
    everywhere = true;
    for (auto& s : servers) everywhere = everywhere && s->applied.size() == 1 && s->applied[0].payload == "hello";
  }
  EXPECT_TRUE(everywhere) << "the write did not reach every live server";
}

}  // namespace
}  // namespace faultline::zab

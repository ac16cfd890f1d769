// Whole ensembles at run time: EnsembleNode threads over the loopback peer network (ports
// 21740-21759, three per test), with in-memory disks and applications.
#include "coord/zab/ensemble_node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <set>
#include <thread>

namespace faultline::zab {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class MemoryStorage : public ZabStorage {
 public:
  Status Persist(const Ready& rd) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (hold_) {
      stuck_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_; });
      stuck_ = false;
    }
    if (fail_) return Status::Unavailable("No space left on device");
    if (rd.install_snapshot) log_.clear();
    if (rd.truncate_after) {
      while (!log_.empty() && log_.back().zxid > *rd.truncate_after) log_.pop_back();
    }
    for (const Txn& t : rd.append) log_.push_back(t);
    if (rd.hard_state) hs_ = *rd.hard_state;
    return Status::Ok();
  }
  void Fail() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = true;
  }
  // From Hold() on, the next Persist() hangs, as an fsync on a dying disk, until Release().
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  bool WaitStuck(std::chrono::milliseconds within) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, within, [this] { return stuck_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool fail_ = false;
  bool hold_ = false;
  bool stuck_ = false;
  std::vector<Txn> log_;
  HardState hs_;
};

class MemoryApp : public ZabApplication {
 public:
  SnapshotData TakeSnapshot() override { return {}; }
  void Apply(const Txn& txn) override {
    std::lock_guard<std::mutex> lock(mu_);
    applied_.push_back(txn.payload);
  }
  void Install(const SnapshotData&) override {}
  void OnRoleChange(ServerState, bool) override {}
  void OnEvent(const Event& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e.text);
  }
  void OnTouched(const std::vector<uint64_t>& sessions) override {
    std::lock_guard<std::mutex> lock(mu_);
    touched_.insert(sessions.begin(), sessions.end());
  }
  void OnRefused(const std::string& payload, uint64_t session, const Status& why) override {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.push_back(payload + "/" + std::to_string(session) + ": " + why.message());
  }
  std::set<uint64_t> touched() const {
    std::lock_guard<std::mutex> lock(mu_);
    return touched_;
  }
  std::vector<std::string> refused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  std::vector<std::string> applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }
  bool Logged(const std::string& prefix) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : events_) {
      if (e.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> applied_;
  std::vector<std::string> events_;
  std::set<uint64_t> touched_;
  std::vector<std::string> refused_;
};

struct Member {
  std::unique_ptr<PeerNetwork> net;
  MemoryStorage storage;
  MemoryApp app;
  std::unique_ptr<EnsembleNode> node;
};

class Ensemble {
 public:
  Ensemble(uint16_t base, int voters) {
    std::vector<PeerEndpoint> endpoints;
    for (int i = 1; i <= voters; ++i) {
      endpoints.push_back({static_cast<ServerId>(i), "127.0.0.1", static_cast<uint16_t>(base + i - 1)});
    }
    for (int i = 1; i <= voters; ++i) {
      auto m = std::make_unique<Member>();
      PeerConfig c;
      c.id = static_cast<ServerId>(i);
      for (int v = 1; v <= voters; ++v) c.voters.push_back(static_cast<ServerId>(v));
      c.tick_ms = 20;
      c.tick_time_ms = 100;
      c.init_limit = 10;
      c.sync_limit = 3;
      c.incarnation = 1;
      PeerNetworkOptions options;
      options.connect_timeout = 500ms;
      options.retry_interval = 50ms;
      m->net = std::make_unique<PeerNetwork>(c.id, endpoints, options);
      EXPECT_TRUE(m->net->Start().ok());
      m->node = std::make_unique<EnsembleNode>(c, DurableState{}, m->net.get(), &m->storage, &m->app);
      members_.push_back(std::move(m));
    }
    for (auto& m : members_) m->node->Start();
  }
  ~Ensemble() {
    for (auto& m : members_) Kill(*m);
  }

  Member& at(ServerId id) { return *members_[id - 1]; }
  static void Kill(Member& m) {
    m.node->Stop();
    m.net->Stop();
  }

  // The serving leader other than `except` (a dead one still reports its last state).
  ServerId WaitForLeader(std::chrono::milliseconds within, ServerId except = 0) {
    for (auto until = Clock::now() + within; Clock::now() < until; std::this_thread::sleep_for(10ms)) {
      for (size_t i = 0; i < members_.size(); ++i) {
        ServerId id = static_cast<ServerId>(i + 1);
        PeerStatus st = members_[i]->node->Describe();
        if (id != except && st.state == ServerState::kLeading && st.serving) return id;
      }
    }
    return 0;
  }

  bool WaitApplied(std::vector<ServerId> ids, const std::vector<std::string>& want, std::chrono::milliseconds within) {
    for (auto until = Clock::now() + within; Clock::now() < until; std::this_thread::sleep_for(10ms)) {
      bool all = true;
      for (ServerId id : ids) all = all && at(id).app.applied() == want;
      if (all) return true;
    }
    return false;
  }

 private:
  std::vector<std::unique_ptr<Member>> members_;
};

TEST(EnsembleNode, LeaderDiesAndTheOthersCarryOn) {
  Ensemble e(21740, 3);
  ServerId first = e.WaitForLeader(10s);
  ASSERT_NE(first, 0u) << "no leader within 10 s";
  ASSERT_TRUE(e.at(first).node->Propose("one").ok());
  ASSERT_TRUE(e.WaitApplied({1, 2, 3}, {"one"}, 5s));

  Ensemble::Kill(e.at(first));  // as SIGKILL: its sockets close, its thread is gone
  ServerId second = e.WaitForLeader(10s, first);
  ASSERT_NE(second, 0u) << "no new leader within 10 s of the old one dying";
  ASSERT_NE(second, first);
  EXPECT_TRUE(e.at(second).app.Logged("LEADING - LEADER ELECTION TOOK - "));
  std::vector<ServerId> alive;
  for (ServerId id = 1; id <= 3; ++id) {
    if (id != first) alive.push_back(id);
  }
  // A follower forwards the write to the new leader.
  ServerId follower = alive[0] == second ? alive[1] : alive[0];
  ASSERT_TRUE(e.at(follower).node->Propose("two").ok());
  EXPECT_TRUE(e.WaitApplied(alive, {"one", "two"}, 5s));
  EXPECT_GE(e.at(second).node->Describe().hard_state.current_epoch, 2u);
}

TEST(EnsembleNode, SubmitOnAFollowerCommitsEverywhere) {
  Ensemble e(21744, 3);
  ServerId leader = e.WaitForLeader(10s);
  ASSERT_NE(leader, 0u) << "no leader within 10 s";
  ServerId follower = leader == 1 ? 2 : 1;
  for (auto until = Clock::now() + 5s; !e.at(follower).node->DescribeCached().serving && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(e.at(follower).node->DescribeCached().serving);
  e.at(follower).node->Submit("one", 0x7);
  e.at(follower).node->Submit("two");
  EXPECT_TRUE(e.WaitApplied({1, 2, 3}, {"one", "two"}, 5s));
  EXPECT_TRUE(e.at(follower).app.refused().empty());
  // Only the leader closes a session: a follower's request comes back through OnRefused.
  e.at(follower).node->SubmitCloseSession(0x7);
  for (auto until = Clock::now() + 2s; e.at(follower).app.refused().empty() && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(e.at(follower).app.refused().size(), 1u);
  EXPECT_EQ(e.at(follower).app.refused()[0],
            "/7: server " + std::to_string(follower) + ": only the serving leader decides session expiry");
  PeerStatus cached = e.at(leader).node->DescribeCached();
  EXPECT_EQ(cached.state, ServerState::kLeading);
  EXPECT_EQ(cached.proposal_count, 2u);

  // The follower's fsync hangs with its node's lock held: Submit and DescribeCached still
  // return at once, and the write goes through once the disk comes back.
  e.at(follower).storage.Hold();
  e.at(leader).node->Submit("three");
  bool stuck = e.at(follower).storage.WaitStuck(5s);
  auto start = Clock::now();
  e.at(follower).node->Submit("four");
  PeerStatus during = e.at(follower).node->DescribeCached();
  auto took = Clock::now() - start;
  // storage_error() too: the server asks for it holding its tree lock, which the node's thread
  // may be waiting for (a SNAP) with the node's lock held. Asked on a thread of its own so a
  // wait shows as a failure, not a hung test.
  std::atomic<bool> answered{false};
  std::thread asker([&] {
    (void)e.at(follower).node->storage_error();
    answered = true;
  });
  for (auto until = Clock::now() + 1s; !answered && Clock::now() < until;) std::this_thread::sleep_for(5ms);
  bool answered_while_stuck = answered;
  e.at(follower).storage.Release();  // before any assertion can end the test with it held
  asker.join();
  ASSERT_TRUE(stuck) << "the follower never persisted the leader's proposal";
  // Waiting for the node's lock would last until Release() below: a hang, not a slow call.
  // The bound leaves room for a loaded machine under a sanitizer.
  EXPECT_LT(took, 1s);
  EXPECT_TRUE(answered_while_stuck) << "storage_error() waited for the node's lock";
  EXPECT_EQ(during.state, ServerState::kFollowing);
  EXPECT_TRUE(e.WaitApplied({1, 2, 3}, {"one", "two", "three", "four"}, 5s));
}

TEST(EnsembleNode, SubmittedTouchesOnAFollowerReachTheLeader) {
  Ensemble e(21754, 3);
  ServerId leader = e.WaitForLeader(10s);
  ASSERT_NE(leader, 0u) << "no leader within 10 s";
  ServerId follower = leader == 1 ? 2 : 1;
  for (auto until = Clock::now() + 5s; !e.at(follower).node->DescribeCached().serving && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(e.at(follower).node->DescribeCached().serving);
  e.at(follower).node->SubmitTouches({0x100, 0x101});
  e.at(leader).node->SubmitTouches({0x200});  // the leader's own sessions are its own business
  const std::set<uint64_t> want{0x100, 0x101};
  // The leader pings every tickTime / 2 (50 ms here).
  for (auto until = Clock::now() + 2s; e.at(leader).app.touched() != want && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(e.at(leader).app.touched(), want);
  EXPECT_TRUE(e.at(follower).app.touched().empty());
}

TEST(EnsembleNode, AServerThatCannotPersistStopsAcknowledging) {
  Ensemble e(21750, 3);
  ServerId leader = e.WaitForLeader(10s);
  ASSERT_NE(leader, 0u);
  ServerId broken = leader == 1 ? 2 : 1;
  ServerId healthy = 6 - leader - broken;
  e.at(broken).storage.Fail();
  ASSERT_TRUE(e.at(leader).node->Propose("x").ok());
  // Leader and the healthy follower are a quorum: the write commits there.
  EXPECT_TRUE(e.WaitApplied({leader, healthy}, {"x"}, 5s));
  for (auto until = Clock::now() + 2s; e.at(broken).node->storage_error().ok() && Clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(e.at(broken).node->storage_error().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(e.at(broken).app.applied().empty());
  EXPECT_EQ(e.at(broken).node->Propose("y").code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace faultline::zab

// Whole ensembles at run time: EnsembleNode threads over the loopback peer network (ports
// 21740-21759), with in-memory disks and applications.
#include "coord/zab/ensemble_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

namespace faultline::zab {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class MemoryStorage : public ZabStorage {
 public:
  Status Persist(const Ready& rd) override {
    std::lock_guard<std::mutex> lock(mu_);
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

 private:
  std::mutex mu_;
  bool fail_ = false;
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

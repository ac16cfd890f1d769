#include "tests/sim/simulation.h"

#include <algorithm>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <sstream>

#include "tests/sim/checkers.h"
#include "tests/sim/sim_node.h"

namespace faultline::sim {

namespace {

using zab::Message;
using zab::ServerState;

zab::PeerConfig SimPeerConfig(zab::ServerId id, int voters, int observers) {
  zab::PeerConfig c;
  c.id = id;
  for (int i = 1; i <= voters; ++i) c.voters.push_back(static_cast<zab::ServerId>(i));
  for (int i = 1; i <= observers; ++i) c.observers.push_back(static_cast<zab::ServerId>(voters + i));
  c.tick_ms = 50;
  c.tick_time_ms = 200;
  c.init_limit = 10;
  c.sync_limit = 5;
  c.finalize_wait_ms = 200;
  c.max_notification_interval_ms = 3200;
  return c;
}

class Simulation {
 public:
  Simulation(const SimOptions& o, std::ostream* trace) : o_(o), rng_(o.seed), trace_(trace), liveness_(o.liveness_bound) {
    int n = o.voters + o.observers;
    for (int i = 1; i <= n; ++i) {
      nodes_.push_back(std::make_unique<SimNode>(SimPeerConfig(static_cast<zab::ServerId>(i), o.voters, o.observers),
                                                 o.lying_disk));
    }
    loss_ = o.loss;
    duplicate_ = o.duplicate;
  }

  SimResult Run() {
    for (auto& node : nodes_) {
      node->Start();
      checker_prefix_.OnHistory(0, node->id(), node->history(), true, &problems_);
    }
    DrainReadys();
    const int64_t end = o_.fault_ticks + o_.quiet_ticks;
    for (now_ = 1; now_ <= end && problems_.empty(); ++now_) {
      if (now_ < o_.fault_ticks) {
        Faults();
      } else if (now_ == o_.fault_ticks) {
        StopFaults();
      }
      Deliver();
      for (auto& node : nodes_) {
        if (node->alive()) node->peer().Tick();
      }
      if (now_ < end - o_.drain_ticks && Chance(o_.write_chance)) ClientWrite();
      DrainReadys();
      if (now_ > o_.fault_ticks) liveness_.Check(now_, &problems_);
    }
    if (problems_.empty()) FinalChecks();
    SimResult r;
    r.ok = problems_.empty();
    r.problems = problems_;
    r.acked_writes = checker_acked_.acked();
    r.committed = checker_prefix_.longest();
    r.leaders = leaders_;
    r.recovered_after = liveness_.recovered_after();
    return r;
  }

 private:
  struct InFlight {
    int64_t at;
    uint64_t order;
    Message msg;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  uint64_t Next() { return rng_(); }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }
  int64_t Range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  SimNode& Node(zab::ServerId id) { return *nodes_[id - 1]; }

  void Trace(const std::string& line) {
    if (trace_) *trace_ << "t=" << now_ << " " << line << "\n";
  }

  bool Blocked(zab::ServerId from, zab::ServerId to) const { return blocked_.count({from, to}) > 0; }

  void Faults() {
    if (blocked_.empty()) {
      if (Chance(o_.partition_chance)) MakePartition();
    } else if (Chance(o_.heal_chance)) {
      blocked_.clear();
      Trace("heal");
    }
    for (auto& node : nodes_) {
      if (!node->alive() && Chance(o_.restart_chance)) Restart(*node);
    }
    if (Chance(o_.crash_chance)) {
      SimNode& victim = *nodes_[static_cast<size_t>(Range(0, static_cast<int64_t>(nodes_.size()) - 1))];
      if (victim.alive()) {
        Trace("crash " + std::to_string(victim.id()));
        victim.Crash();
        pending_writes_.erase(victim.id());
        checker_prefix_.OnHistory(now_, victim.id(), victim.history(), true, &problems_);
      }
    }
  }

  void MakePartition() {
    const int64_t n = static_cast<int64_t>(nodes_.size());
    std::ostringstream what;
    switch (Range(0, 2)) {
      case 0: {  // isolate one server
        zab::ServerId lone = static_cast<zab::ServerId>(Range(1, n));
        for (zab::ServerId other = 1; other <= static_cast<zab::ServerId>(n); ++other) {
          if (other == lone) continue;
          blocked_.insert({lone, other});
          blocked_.insert({other, lone});
        }
        what << "partition isolate " << lone;
        break;
      }
      case 1: {  // two random sides
        std::vector<zab::ServerId> a, b;
        for (zab::ServerId id = 1; id <= static_cast<zab::ServerId>(n); ++id) (Chance(0.5) ? a : b).push_back(id);
        for (auto x : a) {
          for (auto y : b) {
            blocked_.insert({x, y});
            blocked_.insert({y, x});
          }
        }
        what << "partition";
        for (auto x : a) what << " " << x;
        what << " |";
        for (auto y : b) what << " " << y;
        break;
      }
      default: {  // one way: a server can hear but not be heard, or the reverse
        zab::ServerId one = static_cast<zab::ServerId>(Range(1, n));
        bool outbound = Chance(0.5);
        for (zab::ServerId other = 1; other <= static_cast<zab::ServerId>(n); ++other) {
          if (other == one) continue;
          if (outbound) {
            blocked_.insert({one, other});
          } else {
            blocked_.insert({other, one});
          }
        }
        what << "partition one-way: " << (outbound ? "nothing from " : "nothing to ") << one;
        break;
      }
    }
    Trace(what.str());
  }

  void Restart(SimNode& node) {
    node.Start();
    Trace("restart " + std::to_string(node.id()) + " (incarnation " + std::to_string(node.incarnation()) + ")");
    checker_prefix_.OnHistory(now_, node.id(), node.history(), true, &problems_);
  }

  void StopFaults() {
    blocked_.clear();
    loss_ = 0;
    duplicate_ = 0;
    for (auto& node : nodes_) {
      if (!node->alive()) Restart(*node);
    }
    Trace("faults stop");
    liveness_.OnFaultsStopped(now_);
  }

  void Deliver() {
    while (!network_.empty() && network_.top().at <= now_) {
      Message msg = network_.top().msg;
      network_.pop();
      SimNode& to = Node(msg.to);
      if (!to.alive()) {
        Trace("lost (down) " + msg.ToString());
        continue;
      }
      if (Blocked(msg.from, msg.to)) {
        Trace("lost (partition) " + msg.ToString());
        continue;
      }
      Trace("deliver " + msg.ToString() +
            (msg.conn ? " (conn " + zab::Hex(msg.conn) + " seq " + std::to_string(msg.seq) + ")" : ""));
      to.peer().Step(msg);
    }
  }

  void SendAll(std::vector<Message>& msgs) {
    for (Message& msg : msgs) {
      if (msg.to == 0 || msg.to > nodes_.size()) continue;
      if (Chance(loss_)) {
        Trace("lost (loss) " + msg.ToString());
        continue;
      }
      int copies = Chance(duplicate_) ? 2 : 1;
      for (int i = 0; i < copies; ++i) {
        network_.push(InFlight{now_ + Range(o_.min_delay, o_.max_delay), ++order_, msg});
      }
    }
  }

  void ClientWrite() {
    std::vector<SimNode*> up;
    for (auto& node : nodes_) {
      if (node->alive() && node->peer().Describe().serving) up.push_back(node.get());
    }
    if (up.empty()) return;
    SimNode& node = *up[static_cast<size_t>(Range(0, static_cast<int64_t>(up.size()) - 1))];
    std::string write = "w" + std::to_string(++writes_);
    if (node.peer().Propose(write, node.id()).ok()) {
      pending_writes_[node.id()][write] = now_;
      Trace("write " + write + " to " + std::to_string(node.id()));
    }
  }

  void HandleReady(SimNode& node, zab::Ready& rd) {
    const std::string who = std::to_string(node.id());
    for (const zab::Event& ev : rd.events) {
      if (trace_ && ev.text.rfind("Notification:", 0) != 0) Trace("[" + who + "] " + ev.text);
    }
    SendAll(rd.messages);
    if (rd.install_snapshot || !rd.commits.empty()) {
      checker_prefix_.OnHistory(now_, node.id(), node.history(), rd.install_snapshot.has_value(), &problems_);
    }
    auto& pending = pending_writes_[node.id()];
    for (const zab::Txn& txn : rd.commits) {
      Trace("[" + who + "] commit " + zab::ZxidHex(txn.zxid) + " " + txn.payload);
      auto it = pending.find(txn.payload);
      if (it != pending.end()) {
        checker_acked_.OnAcked(now_, txn.payload);
        liveness_.OnAcked(now_, it->second);
        pending.erase(it);
      }
    }
    if (rd.serving && *rd.serving && node.peer().Describe().state == ServerState::kLeading) {
      ++leaders_;
      uint32_t epoch = node.peer().Describe().epoch;
      Trace("[" + who + "] leader serving epoch 0x" + zab::Hex(epoch));
      checker_leaders_.OnLeaderServing(now_, node.id(), epoch, &problems_);
      checker_acked_.OnLeaderServing(now_, node.id(), node.history(), &problems_);
    }
    if (!rd.commits.empty() && ++since_compact_[node.id()] >= static_cast<size_t>(o_.compact_every)) {
      since_compact_[node.id()] = 0;
      node.Compact();
    }
  }

  void DrainReadys() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (auto& node : nodes_) {
        if (!node->alive()) continue;
        while (node->peer().HasReady()) {
          any = true;
          zab::Ready rd = node->TakeReady(now_ + Range(0, o_.max_fsync_delay), &problems_);
          HandleReady(*node, rd);
        }
      }
      for (auto& node : nodes_) {
        if (node->alive()) node->CompleteFsyncs(now_);
      }
      bool more = false;
      for (auto& node : nodes_) more = more || (node->alive() && node->peer().HasReady());
      if (!any && !more) return;
    }
    problems_.push_back("tick " + std::to_string(now_) + ": Ready loop did not settle");
  }

  void FinalChecks() {
    size_t serving = 0;
    for (auto& node : nodes_) {
      if (!node->alive()) continue;
      zab::PeerStatus st = node->peer().Describe();
      if (!st.serving) continue;
      ++serving;
      checker_acked_.CheckFinal(node->id(), node->history(), &problems_);
    }
    if (serving < static_cast<size_t>(o_.voters / 2 + 1)) {
      problems_.push_back("at the end only " + std::to_string(serving) + " servers serve");
    }
  }

  SimOptions o_;
  std::mt19937_64 rng_;
  std::ostream* trace_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> network_;
  uint64_t order_ = 0;
  std::set<std::pair<zab::ServerId, zab::ServerId>> blocked_;
  double loss_ = 0;
  double duplicate_ = 0;
  int64_t now_ = 0;
  uint64_t writes_ = 0;
  size_t leaders_ = 0;
  std::map<zab::ServerId, std::map<std::string, int64_t>> pending_writes_;
  std::map<zab::ServerId, size_t> since_compact_;
  std::vector<std::string> problems_;

  LeaderPerEpochChecker checker_leaders_;
  PrefixChecker checker_prefix_;
  AckedWriteChecker checker_acked_;
  LivenessChecker liveness_;
};

}  // namespace

SimOptions SimOptions::ForSeed(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  std::mt19937_64 pick(seed * 0x9e3779b97f4a7c15ull + 7);
  auto frac = [&pick] { return static_cast<double>(pick() >> 11) * 0x1.0p-53; };
  o.voters = pick() % 2 == 0 ? 3 : 5;
  o.observers = pick() % 4 == 0 ? 1 : 0;
  o.loss = frac() * 0.05;
  o.duplicate = frac() * 0.05;
  o.max_delay = 1 + static_cast<int>(pick() % 6);
  o.partition_chance = 0.001 + frac() * 0.01;
  o.heal_chance = 0.005 + frac() * 0.02;
  o.crash_chance = frac() * 0.006;
  o.max_fsync_delay = static_cast<int>(pick() % 5);
  o.compact_every = 10 + static_cast<int>(pick() % 40);
  return o;
}

std::string SimOptions::Describe() const {
  std::ostringstream out;
  out << "seed=" << seed << " voters=" << voters << " observers=" << observers << " loss=" << loss
      << " duplicate=" << duplicate << " delay=" << min_delay << ".." << max_delay
      << " partition=" << partition_chance << " heal=" << heal_chance << " crash=" << crash_chance
      << " fsync<=" << max_fsync_delay << " compact_every=" << compact_every
      << (lying_disk ? " lying_disk" : "");
  return out.str();
}

SimResult RunSimulation(const SimOptions& options, std::ostream* trace) {
  return Simulation(options, trace).Run();
}

}  // namespace faultline::sim

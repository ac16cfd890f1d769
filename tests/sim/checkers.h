// Invariant checkers: each watches the simulated ensemble through a narrow callback and says
// what it saw go wrong. They know nothing of the core's internals, only what a server reports
// (state, epoch, what it applied), as a Jepsen checker reads a history.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "coord/zab/types.h"

namespace faultline::sim {

using zab::ServerId;
using zab::Txn;

// At most one server leads (serves as leader) in any epoch.
class LeaderPerEpochChecker {
 public:
  void OnLeaderServing(int64_t tick, ServerId sid, uint32_t epoch, std::vector<std::string>* problems);

 private:
  std::map<uint32_t, ServerId> leaders_;
};

// Committed histories are prefixes of one another: every server's applied list agrees, position
// by position, with one sequence made of everything ever applied anywhere.
class PrefixChecker {
 public:
  // replaced: the history was swapped wholesale (restart, snapshot), so check all of it again.
  void OnHistory(int64_t tick, ServerId sid, const std::vector<Txn>& history, bool replaced,
                 std::vector<std::string>* problems);
  size_t longest() const { return canon_.size(); }

 private:
  std::vector<Txn> canon_;
  std::map<ServerId, size_t> checked_;  // how much of each server's history is already verified
};

// Every acknowledged write is in every later committed state: in the initial history of each
// leader that starts serving after the acknowledgement, and, once the faults stop, on every
// server that serves.
class AckedWriteChecker {
 public:
  void OnAcked(int64_t tick, const std::string& write);
  void OnLeaderServing(int64_t tick, ServerId sid, const std::vector<Txn>& history, std::vector<std::string>* problems);
  void CheckFinal(ServerId sid, const std::vector<Txn>& history, std::vector<std::string>* problems) const;
  size_t acked() const { return acked_.size(); }

 private:
  std::map<std::string, int64_t> acked_;  // write -> tick acknowledged
};

// After the last fault, a leader serves (a fresh write is acknowledged) within a bound.
class LivenessChecker {
 public:
  explicit LivenessChecker(int64_t bound_ticks) : bound_(bound_ticks) {}
  void OnFaultsStopped(int64_t tick) { stopped_ = tick; }
  void OnAcked(int64_t tick, int64_t submitted_tick);
  void Check(int64_t now, std::vector<std::string>* problems) const;
  int64_t recovered_after() const { return recovered_ < 0 ? -1 : recovered_ - stopped_; }

 private:
  int64_t bound_;
  int64_t stopped_ = -1;
  int64_t recovered_ = -1;
};

}  // namespace faultline::sim

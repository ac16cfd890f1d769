#include "tests/sim/checkers.h"

#include <algorithm>

namespace faultline::sim {

namespace {

std::string Describe(const Txn& txn) {
  return zab::ZxidHex(txn.zxid) + " \"" + txn.payload + "\"";
}

}  // namespace

void LeaderPerEpochChecker::OnLeaderServing(int64_t tick, ServerId sid, uint32_t epoch,
                                           std::vector<std::string>* problems) {
  auto [it, fresh] = leaders_.emplace(epoch, sid);
  if (!fresh && it->second != sid) {
    problems->push_back("tick " + std::to_string(tick) + ": two leaders in epoch 0x" + zab::Hex(epoch) +
                        ": server " + std::to_string(it->second) + " and server " + std::to_string(sid));
  }
}

void PrefixChecker::OnHistory(int64_t tick, ServerId sid, const std::vector<Txn>& history, bool replaced,
                              std::vector<std::string>* problems) {
  size_t& from = checked_[sid];
  if (replaced || from > history.size()) from = 0;
  for (size_t i = from; i < history.size(); ++i) {
    if (i < canon_.size()) {
      if (!(canon_[i] == history[i])) {
        problems->push_back("tick " + std::to_string(tick) + ": server " + std::to_string(sid) +
                            " committed " + Describe(history[i]) + " at position " + std::to_string(i) +
                            " where another server committed " + Describe(canon_[i]));
        return;
      }
    } else {
      canon_.push_back(history[i]);
    }
  }
  from = history.size();
}

void AckedWriteChecker::OnAcked(int64_t tick, const std::string& write) { acked_.emplace(write, tick); }

void AckedWriteChecker::OnLeaderServing(int64_t tick, ServerId sid, const std::vector<Txn>& history,
                                        std::vector<std::string>* problems) {
  std::set<std::string> have;
  for (const Txn& txn : history) have.insert(txn.payload);
  for (const auto& [write, when] : acked_) {
    if (when < tick && !have.count(write)) {
      problems->push_back("tick " + std::to_string(tick) + ": server " + std::to_string(sid) +
                          " started leading without write " + write + " acknowledged at tick " +
                          std::to_string(when));
      return;
    }
  }
}

void AckedWriteChecker::CheckFinal(ServerId sid, const std::vector<Txn>& history,
                                   std::vector<std::string>* problems) const {
  std::set<std::string> have;
  for (const Txn& txn : history) have.insert(txn.payload);
  for (const auto& [write, when] : acked_) {
    if (!have.count(write)) {
      problems->push_back("at the end, server " + std::to_string(sid) + " lacks write " + write +
                          " acknowledged at tick " + std::to_string(when));
      return;
    }
  }
}

void LivenessChecker::OnAcked(int64_t tick, int64_t submitted_tick) {
  if (stopped_ >= 0 && recovered_ < 0 && submitted_tick >= stopped_) recovered_ = tick;
}

void LivenessChecker::Check(int64_t now, std::vector<std::string>* problems) const {
  if (stopped_ < 0) return;
  if (recovered_ < 0 ? now - stopped_ > bound_ : recovered_ - stopped_ > bound_) {
    problems->push_back("no write acknowledged within " + std::to_string(bound_) +
                        " ticks of the faults stopping at tick " + std::to_string(stopped_) +
                        (recovered_ < 0 ? " (none at all)" : " (first after " +
                                                                 std::to_string(recovered_ - stopped_) + ")"));
  }
}

}  // namespace faultline::sim

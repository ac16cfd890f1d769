#include "tests/sim/script_env.h"

namespace faultline::sim {

// status: one line per server: role, epoch, positions, and whether it serves clients.
std::string ScriptEnv::HandleStatus(const Args& args) {
  if (!args.empty()) return "status takes no arguments";
  for (auto& node : nodes_) {
    std::string line = std::to_string(node->id()) + ": ";
    if (!node->alive()) {
      Out(line + "down");
      continue;
    }
    zab::PeerStatus st = node->peer().Describe();
    line += zab::StateName(st.state);
    if (st.state != zab::ServerState::kLooking) line += " leader=" + std::to_string(st.leader);
    line += std::string(st.serving ? " serving" : " not-serving") + " acceptedEpoch=0x" +
            zab::Hex(st.hard_state.accepted_epoch) + " currentEpoch=0x" + zab::Hex(st.hard_state.current_epoch) +
            " last=" + zab::ZxidHex(st.last_zxid) + " commit=" + zab::ZxidHex(st.commit_zxid);
    if (paused_.count(node->id())) line += " (paused)";
    Out(line);
  }
  return "";
}

// history: what each server has applied, in order.
std::string ScriptEnv::HandleHistory(const Args& args) {
  if (!args.empty()) return "history takes no arguments";
  for (auto& node : nodes_) {
    std::string line = std::to_string(node->id()) + ":";
    if (!node->alive()) {
      Out(line + " down");
      continue;
    }
    for (const zab::Txn& t : node->history()) {
      line += " " + zab::ZxidHex(t.zxid) + "=" +
              (t.kind == zab::TxnKind::kCloseSession ? "closeSession:0x" + zab::Hex(t.session) : t.payload);
    }
    if (node->history().empty()) line += " (empty)";
    Out(line);
  }
  return "";
}

}  // namespace faultline::sim

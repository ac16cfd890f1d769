#include "tests/sim/script_env.h"

namespace faultline::sim {

// compact ID: a durable snapshot of what ID has applied, and its log up to there dropped; a
// learner that needs those entries will get SNAP.
std::string ScriptEnv::HandleCompact(const Args& args) {
  if (args.size() != 1) return "usage: compact ID";
  SimNode* node = NodeArg(args[0]);
  if (!node || !node->alive()) return "no running server '" + args[0] + "'";
  node->Compact();
  Out(std::to_string(node->id()) + ": snapshot at " + zab::ZxidHex(node->disk().snapshot_zxid) + ", " +
      std::to_string(node->disk().log.size()) + " log entries left");
  return "";
}

}  // namespace faultline::sim

#include "tests/sim/script_env.h"

namespace faultline::sim {

// propose ID DATA: a client write submitted to server ID (a follower forwards it).
std::string ScriptEnv::HandlePropose(const Args& args) {
  if (args.size() != 2) return "usage: propose ID DATA";
  SimNode* node = NodeArg(args[0]);
  if (!node || !node->alive()) return "no running server '" + args[0] + "'";
  Status st = node->peer().Propose(args[1], node->id());
  if (!st.ok()) return st.message();
  ProcessReadys();
  return "";
}

}  // namespace faultline::sim

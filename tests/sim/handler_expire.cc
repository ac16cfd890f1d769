#include "tests/sim/script_env.h"

namespace faultline::sim {

// expire ID SESSION: the application on server ID reports SESSION expired. Only the serving
// leader turns that into a closeSession transaction; anywhere else it is refused.
std::string ScriptEnv::HandleExpire(const Args& args) {
  if (args.size() != 2) return "usage: expire ID SESSION";
  SimNode* node = NodeArg(args[0]);
  if (!node || !node->alive()) return "no running server '" + args[0] + "'";
  uint64_t session = std::strtoull(args[1].c_str(), nullptr, 0);
  Status st = node->peer().ProposeCloseSession(session);
  if (!st.ok()) return st.message();
  ProcessReadys();
  return "";
}

}  // namespace faultline::sim

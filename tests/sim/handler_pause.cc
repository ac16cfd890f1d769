#include "tests/sim/script_env.h"

namespace faultline::sim {

// pause ID: as SIGSTOP: the server's clock stops and what is sent to it waits unread.
std::string ScriptEnv::HandlePause(const Args& args) {
  if (args.size() != 1) return "usage: pause ID";
  SimNode* node = NodeArg(args[0]);
  if (!node || !node->alive()) return "no running server '" + args[0] + "'";
  paused_.insert(node->id());
  return "";
}

// resume ID: as SIGCONT: it carries on from where it stopped, unaware of the time it lost.
std::string ScriptEnv::HandleResume(const Args& args) {
  if (args.size() != 1) return "usage: resume ID";
  SimNode* node = NodeArg(args[0]);
  if (!node || !paused_.count(node->id())) return "no paused server '" + args[0] + "'";
  paused_.erase(node->id());
  return "";
}

}  // namespace faultline::sim

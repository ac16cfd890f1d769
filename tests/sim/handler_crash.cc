#include "tests/sim/script_env.h"

namespace faultline::sim {

// crash ID: the process is gone; its disk stays.
std::string ScriptEnv::HandleCrash(const Args& args) {
  if (args.size() != 1) return "usage: crash ID";
  SimNode* node = NodeArg(args[0]);
  if (!node || !node->alive()) return "no running server '" + args[0] + "'";
  node->Crash();
  paused_.erase(node->id());
  Out(std::to_string(node->id()) + ": crashed");
  return "";
}

// restart ID: boot from the disk.
std::string ScriptEnv::HandleRestart(const Args& args) {
  if (args.size() != 1) return "usage: restart ID";
  SimNode* node = NodeArg(args[0]);
  if (!node || node->alive()) return "no crashed server '" + args[0] + "'";
  node->Start();
  prefix_.OnHistory(now_, node->id(), node->history(), true, &problems_);
  ProcessReadys();
  return "";
}

}  // namespace faultline::sim

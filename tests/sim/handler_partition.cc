#include "tests/sim/script_env.h"

namespace faultline::sim {

// partition A,B | C,D   both ways between the sides
// partition A -> B,C    from A to B and C only
std::string ScriptEnv::HandlePartition(const Args& args) {
  if (args.size() != 3 || (args[1] != "|" && args[1] != "->")) {
    return "usage: partition A,B | C,D  or  partition A -> B,C";
  }
  std::vector<zab::ServerId> left = ParseIds(args[0]);
  std::vector<zab::ServerId> right = ParseIds(args[2]);
  if (left.empty() || right.empty()) return "server lists are ids separated by commas";
  for (auto a : left) {
    for (auto b : right) {
      blocked_.insert({a, b});
      if (args[1] == "|") blocked_.insert({b, a});
    }
  }
  return "";
}

// heal: every partition is gone.
std::string ScriptEnv::HandleHeal(const Args& args) {
  if (!args.empty()) return "heal takes no arguments";
  blocked_.clear();
  return "";
}

}  // namespace faultline::sim

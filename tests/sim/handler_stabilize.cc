#include "tests/sim/script_env.h"

namespace faultline::sim {

// stabilize: deliver every message in flight, and whatever they cause, until the wire is empty.
std::string ScriptEnv::HandleStabilize(const Args& args) {
  if (!args.empty()) return "stabilize takes no arguments";
  Stabilize();
  return "";
}

}  // namespace faultline::sim

#include "tests/sim/script_env.h"

namespace faultline::sim {

// run N: N ticks with a working network: after each tick, everything in flight is delivered.
std::string ScriptEnv::HandleRun(const Args& args) {
  int n = args.empty() ? 1 : std::atoi(args[0].c_str());
  if (n < 1 || n > 1000 || args.size() > 1) return "usage: run [N], 1 <= N <= 1000";
  for (int i = 0; i < n; ++i) {
    TickAll(1);
    Stabilize();
  }
  return "";
}

}  // namespace faultline::sim

#include "tests/sim/script_env.h"

namespace faultline::sim {

// tick [N]: N ticks of every running server's clock; messages they send wait for stabilize.
std::string ScriptEnv::HandleTick(const Args& args) {
  int n = args.empty() ? 1 : std::atoi(args[0].c_str());
  if (n < 1 || n > 1000 || args.size() > 1) return "usage: tick [N], 1 <= N <= 1000";
  TickAll(n);
  return "";
}

}  // namespace faultline::sim

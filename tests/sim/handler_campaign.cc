#include "tests/sim/script_env.h"

namespace faultline::sim {

// campaign: one round of Fast Leader Election to its end: votes are exchanged until everyone
// agrees, finalizeWait passes with nothing better, and the winner syncs its followers.
std::string ScriptEnv::HandleCampaign(const Args& args) {
  if (!args.empty()) return "campaign takes no arguments";
  Stabilize();
  TickAll(2);  // finalizeWait = 100 ms = 2 ticks
  Stabilize();
  return "";
}

}  // namespace faultline::sim

#include "tests/sim/script_env.h"

namespace faultline::sim {

// add-nodes N [observers=M]: a fresh ensemble with the script timing: a 50 ms tick,
// tickTime=100 (2 ticks), initLimit=5, syncLimit=2, finalizeWait=100 ms.
std::string ScriptEnv::HandleAddNodes(const Args& args) {
  if (!nodes_.empty()) return "the ensemble already exists";
  if (args.empty()) return "usage: add-nodes N [observers=M]";
  int voters = std::atoi(args[0].c_str());
  int observers = 0;
  if (args.size() > 1) {
    if (args[1].rfind("observers=", 0) != 0) return "expected observers=M, got '" + args[1] + "'";
    observers = std::atoi(args[1].c_str() + 10);
  }
  if (voters < 1 || voters > 9 || observers < 0 || observers > 3) return "between 1 and 9 voters, 0 to 3 observers";
  for (int i = 1; i <= voters + observers; ++i) {
    zab::PeerConfig c;
    c.id = static_cast<zab::ServerId>(i);
    for (int v = 1; v <= voters; ++v) c.voters.push_back(static_cast<zab::ServerId>(v));
    for (int o = 1; o <= observers; ++o) c.observers.push_back(static_cast<zab::ServerId>(voters + o));
    c.tick_ms = 50;
    c.tick_time_ms = 100;
    c.init_limit = 5;
    c.sync_limit = 2;
    c.finalize_wait_ms = 100;
    c.max_notification_interval_ms = 800;
    nodes_.push_back(std::make_unique<SimNode>(c));
  }
  for (auto& node : nodes_) node->Start();
  ProcessReadys();
  return "";
}

}  // namespace faultline::sim

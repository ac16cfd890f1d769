// `faultline cleanup -i INV`: every host's agent reverts whatever its state file still
// lists (and only that), in parallel.
#include <cstdio>
#include <mutex>

#include "faults/agent_driver.h"
#include "orchestrator/agent_fanout.h"
#include "orchestrator/commands.h"

namespace faultline {

int CmdCleanup(const CleanupOptions& options) {
  Inventory inv;
  Status st = LoadInventory(options.inventory, &inv);
  if (!st.ok()) {
    std::fprintf(stderr, "faultline cleanup: %s\n", st.message().c_str());
    return kExitInvalid;
  }
  TransportOptions topts;
  topts.accept_new_host_keys = options.accept_new_host_keys;
  std::mutex mu;
  bool unreachable = false, left_over = false;
  ForEachHost(inv, topts, 16, [&](const InventoryHost& h, Transport* t, const Status& made) {
    nlohmann::json reverted = nlohmann::json::array();
    Status s = made;
    bool reached = false;
    if (t) s = AgentCleanup(*t, h.vars, &reverted, &reached);
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& r : reverted) std::printf("%s: reverted %s\n", h.name.c_str(), r.get<std::string>().c_str());
    if (!s.ok()) {
      // A host we could not reach may still hold faults; one that answered with an
      // error has something that would not revert.
      (reached ? left_over : unreachable) = true;
      std::fprintf(stderr, "%s: %s\n", h.name.c_str(), s.message().c_str());
    } else if (reverted.empty()) {
      std::printf("%s: nothing held\n", h.name.c_str());
    }
  });
  if (left_over) return kExitLeftover;
  return unreachable ? kExitInfra : kExitOk;
}

}  // namespace faultline

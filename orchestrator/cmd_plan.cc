#include <cstdio>

#include "orchestrator/commands.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/inventory.h"
#include "orchestrator/plan.h"

namespace faultline {

// Reads and resolves only: no transport is opened and no host is touched.
int CmdPlan(const PlanOptions& options) {
  Inventory inventory;
  Drill drill;
  Status inv = LoadInventory(options.inventory, &inventory);
  Status dr = ParseDrillFile(options.drill, &drill);
  if (!inv.ok()) std::fprintf(stderr, "%s\n", inv.message().c_str());
  if (!dr.ok()) std::fprintf(stderr, "%s\n", dr.message().c_str());
  if (!inv.ok() || !dr.ok()) return kExitInvalid;
  Status st = CheckDrillAgainstInventory(drill, inventory);
  Plan plan;
  if (st.ok())
    st = BuildPlan(drill, inventory, options.run_id.empty() ? "plan" : options.run_id, &plan);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return kExitInvalid;
  }
  std::fputs(FormatPlan(plan).c_str(), stdout);
  return kExitOk;
}

}  // namespace faultline

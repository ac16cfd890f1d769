#include <cstdio>

#include "orchestrator/commands.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/inventory.h"

namespace faultline {

int CmdValidate(const ValidateOptions& options) {
  Inventory inventory;
  bool have_inventory = false;
  int code = kExitOk;
  if (!options.inventory.empty()) {
    Status st = LoadInventory(options.inventory, &inventory);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      code = kExitInvalid;
    } else {
      have_inventory = true;
    }
  }
  // Every drill is read even after a bad one, so one run shows every error.
  for (const auto& path : options.drills) {
    Drill drill;
    Status st = ParseDrillFile(path, &drill);
    if (st.ok() && have_inventory) st = CheckDrillAgainstInventory(drill, inventory);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      code = kExitInvalid;
      continue;
    }
    std::printf("%s: ok (%s: %zu fault%s, %zu expectation%s%s)\n", path.c_str(), drill.name.c_str(),
                drill.faults.size(), drill.faults.size() == 1 ? "" : "s", drill.expect.size(),
                drill.expect.size() == 1 ? "" : "s",
                have_inventory ? (", resolved against " + inventory.path).c_str() : "");
  }
  return code;
}

}  // namespace faultline

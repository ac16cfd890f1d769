#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdPlan(const PlanOptions&) {
  std::fprintf(stderr, "faultline plan: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

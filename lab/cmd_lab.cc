#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdLab(const LabOptions&) {
  std::fprintf(stderr, "faultline lab: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

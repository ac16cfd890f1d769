#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdStatus(const StatusOptions&) {
  std::fprintf(stderr, "faultline status: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

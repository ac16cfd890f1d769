#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdRun(const RunOptions&) {
  std::fprintf(stderr, "faultline run: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

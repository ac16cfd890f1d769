#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdCleanup(const CleanupOptions&) {
  std::fprintf(stderr, "faultline cleanup: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

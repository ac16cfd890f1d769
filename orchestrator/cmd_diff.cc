#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdDiff(const DiffOptions&) {
  std::fprintf(stderr, "faultline diff: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

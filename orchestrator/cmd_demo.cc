#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdDemo(const DemoOptions&) {
  std::fprintf(stderr, "faultline demo: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

#include <cstdio>

#include "orchestrator/commands.h"

namespace faultline {

int CmdValidate(const ValidateOptions&) {
  std::fprintf(stderr, "faultline validate: not available in this build yet\n");
  return kExitInvalid;
}

}  // namespace faultline

#include "orchestrator/registry.h"

#include <mutex>

#include "checks/generic_probes.h"
#include "checks/zk_role_probes.h"
#include "faults/agent_driver.h"
#include "faults/command_fault.h"
#include "faults/local_transport.h"
#include "faults/ssh_transport.h"

namespace faultline {

void RegisterEverything() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Each part adds its Register* call here (declared in its own header).
    RegisterSshTransport();
    RegisterAgentFaults();
    RegisterRoleProbes();
    RegisterLocalTransports();
    RegisterCommandFault();
    RegisterGenericProbes();
  });
}

}  // namespace faultline

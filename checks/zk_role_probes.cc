#include "checks/zk_role_probes.h"

namespace faultline {

void RegisterRoleProbes() {
  RegisterZkProbes();
  RegisterHdfsProbes();
  RegisterYarnProbes();
  RegisterHBaseProbes();
  RegisterKafkaProbes();
  RegisterDataProbes();
}

}  // namespace faultline

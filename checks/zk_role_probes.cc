#include "checks/zk_role_probes.h"

namespace faultline {

void RegisterRoleProbes() {
  RegisterZkProbes();
  RegisterZkWritesProbe();
  RegisterHdfsProbes();
  RegisterYarnProbes();
  RegisterHBaseProbes();
  RegisterKafkaProbes();
  RegisterDataProbes();
}

}  // namespace faultline

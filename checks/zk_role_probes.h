// The role probes of ZooKeeper, HDFS, YARN, HBase and Kafka, and their data-path probes.
// RegisterRoleProbes() adds them all to ProbeRegistry::Global(); orchestrator/registry.cc
// calls it once at start-up.
#pragma once

namespace faultline {

void RegisterRoleProbes();

// The parts, for tests that want only one family.
void RegisterZkProbes();
void RegisterZkWritesProbe();
void RegisterHdfsProbes();
void RegisterYarnProbes();
void RegisterHBaseProbes();
void RegisterKafkaProbes();
void RegisterDataProbes();

}  // namespace faultline

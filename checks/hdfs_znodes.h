// What Hadoop's ActiveStandbyElector keeps in ZooKeeper, and what `hdfs haadmin` prints.
//
// HDFS:  /hadoop-ha/<nameservice>/ActiveStandbyElectorLock   ephemeral, held by the active's ZKFC
//        /hadoop-ha/<nameservice>/ActiveBreadCrumb           persistent, the last active (to fence)
// both holding HAZKInfoProtos.ActiveNodeInfo:
//   1 nameserviceId (string), 2 namenodeId (string), 3 hostname (string), 4 port (int32),
//   5 zkfcPort (int32)
// YARN:  /yarn-leader-election/<cluster-id>/ActiveStandbyElectorLock and ActiveBreadCrumb
// holding ActiveRMInfoProto: 1 clusterId (string), 2 rmId (string).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace faultline {

inline constexpr const char* kElectorLock = "ActiveStandbyElectorLock";
inline constexpr const char* kElectorBreadCrumb = "ActiveBreadCrumb";

struct ActiveNodeInfo {
  std::string nameservice_id;
  std::string namenode_id;
  std::string hostname;
  int port = 0;       // the NameNode's RPC port
  int zkfc_port = 0;  // the failover controller's RPC port
};

std::string EncodeActiveNodeInfo(const ActiveNodeInfo& info);
Status DecodeActiveNodeInfo(const std::string& bytes, ActiveNodeInfo* out);

struct ActiveRmInfo {
  std::string cluster_id;
  std::string rm_id;
};

std::string EncodeActiveRmInfo(const ActiveRmInfo& info);
Status DecodeActiveRmInfo(const std::string& bytes, ActiveRmInfo* out);

std::string HdfsElectorDir(const std::string& nameservice);  // /hadoop-ha/<ns>
std::string YarnElectorDir(const std::string& cluster_id);   // /yarn-leader-election/<id>

// One line of `hdfs haadmin -getAllServiceState`: "<host:port> <state>", formatted as
// "%-50s %-10s" (trailing blanks included); the state is active, standby, observer, initializing, or
// "Failed to connect: ..." for a NameNode that cannot be reached.
struct HaServiceState {
  std::string address;  // "nn1.example.com:8020"
  std::string state;    // "active", "standby", ..., or "unreachable"
  std::string detail;   // the failure text for unreachable
};

std::string FormatHaServiceState(const HaServiceState& s);
// Reads every line that names an address and a state; log noise (WARN lines of the
// hdfs script, blank lines) is skipped.
std::vector<HaServiceState> ParseHaAdminAllServiceState(const std::string& text);

}  // namespace faultline

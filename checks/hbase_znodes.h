// What HBase keeps in ZooKeeper under its parent znode (zookeeper.znode.parent, /hbase):
//   master                   ephemeral, the active master
//   backup-masters/<sn>      ephemeral, one per waiting master
//   rs/<sn>                  ephemeral, one per live RegionServer
// where <sn> is a ServerName "host,port,startcode". Data is written through HBase's
// RecoverableZooKeeper, which prefixes a metadata block (0xFF, a 4-byte big-endian id
// length, the id), then ProtobufUtil's magic "PBUF", then the message:
//   Master { 1 master: ServerName, 2 rpc_version: uint32, 3 info_port: uint32 }
//   ServerName { 1 host_name: string, 2 port: uint32, 3 start_code: uint64 }
//   RegionServerInfo { 1 infoPort: int32 }
//
// Region assignment lives in hbase:meta on a real cluster. The lab's master keeps it
// in ZooKeeper instead, one persistent znode per region under
//   <parent>/faultline-assignment/<encoded region name>
// holding JSON {"table":..,"start_key":..,"server":"<sn>"|"","state":"OPEN"|"OFFLINE"|...}.
// Only the lab's services read it: the probes read regions in transition and dead servers
// from the master's JMX, on the lab as on a real cluster (checks/hbase_jmx.h).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline {

struct ServerName {
  std::string host;
  int port = 0;
  uint64_t start_code = 0;

  std::string ToString() const;  // "host,port,startcode"
  static bool Parse(const std::string& text, ServerName* out);
  bool operator==(const ServerName&) const = default;
};

// `id` is the writer's identifier in the metadata block (HBase uses e.g. "master:16000").
std::string EncodeHBaseMaster(const ServerName& sn, int info_port, const std::string& id);
Status DecodeHBaseMaster(const std::string& bytes, ServerName* sn, int* info_port = nullptr);
std::string EncodeHBaseRegionServer(int info_port, const std::string& id);

// Strips RecoverableZooKeeper's metadata block and the PBUF magic; kInvalid if absent.
Status StripHBaseEnvelope(const std::string& bytes, std::string* message);

struct RegionAssignment {
  std::string region;  // encoded region name
  std::string table;
  std::string start_key;
  std::string server;  // ServerName text, "" when unassigned
  std::string state;   // OPEN, OFFLINE, OPENING, CLOSING
  nlohmann::json ToJson() const;
  static bool FromJson(const std::string& text, RegionAssignment* out);
};

std::string HBaseAssignmentDir(const std::string& parent);  // <parent>/faultline-assignment

}  // namespace faultline

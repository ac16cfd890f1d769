// What the lab builds: hosts in groups, the subnet and bridge they share, the services of
// each group. The default is the cluster of the quarterly drills; a small YAML file can
// change it:
//
//   subnet: 10.77.0.0/24        # the bridge takes .1, hosts .10 upwards
//   bridge: flbr0
//   netns_prefix: fl-           # namespace (and root-side veth) of host zk1: fl-zk1
//   data_size: 64MiB            # tmpfs mounted as each host's data directory
//   groups:
//     zookeeper: [zk1, zk2, zk3]          # Ansible-style ranges work too: "zk[1:3]"
//     namenode:  [nn1, nn2]
//     workers:   ["w[1:8]"]               # a group the lab has no services for: bare hosts
//   services:                             # optional: replace a group's services
//     namenode:
//       - {name: namenode, program: my-namenode, port: 8020}
//
// Groups the lab knows (zookeeper, namenode, resourcemanager, hbase_master, hbase_rs,
// kafka) get their services unless `services` says otherwise; docs/lab.md lists them.
// Programs other than fl-svc are run as `<program> --config <file.json>` (docs/lab.md).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace faultline::lab {

struct LabService {
  std::string name;     // the service name in faultline_services ("namenode")
  std::string program;  // executable looked up by FindProgram ("fl-svc")
  int port = 0;         // its main port, written to the inventory as <name>_port
};

struct LabGroup {
  std::string name;
  std::vector<std::string> hosts;
  std::vector<LabService> services;
};

struct LabTopology {
  std::string subnet = "10.77.0.0/24";
  std::string bridge = "flbr0";
  std::string netns_prefix = "fl-";
  unsigned long long data_bytes = 64ull << 20;
  std::vector<LabGroup> groups;
  std::string hdfs_nameservice = "labns";
  std::string yarn_cluster_id = "labcluster";
  std::vector<std::string> kafka_topics = {"events"};
  std::string hbase_znode_parent = "/hbase";

  const LabGroup* FindGroup(const std::string& name) const;
  std::vector<std::string> AllHosts() const;  // in group order
};

// The drills' cluster: zk1..zk<zk_count>, nn1 nn2, rm1 rm2, hm1 hm2, rs1..rs3, kafka1..kafka3.
LabTopology DefaultTopology(int zk_count);

// Reads a topology file; `zk_count` sizes the zookeeper group when the file names none.
// Errors are kInvalid and name file:line:col.
Status LoadTopology(const std::string& path, int zk_count, LabTopology* out);

// Checks names, sizes and the subnet: host names [a-z0-9-], unique, short enough for an
// interface name with the prefix; enough addresses in the subnet.
Status ValidateTopology(const LabTopology& topology, const std::string& where);

// Expands "zk[1:3]" to zk1 zk2 zk3; anything else is returned as is.
std::vector<std::string> ExpandHostRange(const std::string& pattern);

// IPv4 helpers for the lab's subnet.
struct Ipv4Net {
  unsigned int base = 0;  // network address, host order
  int prefix = 0;
  unsigned int Size() const { return prefix == 0 ? 0xffffffffu : (1u << (32 - prefix)); }
  bool Overlaps(const Ipv4Net& other) const;
};
bool ParseIpv4Net(const std::string& text, Ipv4Net* out);  // "10.77.0.0/24" or "10.77.0.5"
std::string Ipv4ToString(unsigned int addr);

}  // namespace faultline::lab

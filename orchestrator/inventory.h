// An Ansible inventory, read as Ansible reads it (INI or YAML), with faultline's own
// variables riding along as ordinary host and group variables.
//
// Variable precedence is Ansible's: the `all` group, then parent groups before child
// groups (alphabetical among equals), then host variables. `vars` on a host holds the
// merged result, so every consumer reads one JSON object.
//
// faultline's variables (all optional; docs/inventory.md describes each):
//   faultline_transport      ssh (default) | local | netns
//   faultline_netns          network namespace of a lab host (transport netns)
//   faultline_processes      {name: {match: "pgrep -f pattern"} | {pidfile: path} | {service: name}}
//   faultline_services       {name: {start: cmd, stop: cmd, status: cmd}}; cmd is an argv list
//                            or a string split into words (never given to a shell)
//   faultline_quorum         true on a group whose majority must not be lost (the ensemble)
//   faultline_production     true on `all`: `faultline run` needs --confirm <faultline_name>
//   faultline_name           the inventory's name, shown in reports
//   zookeeper_client_port    2181 by default
//   hdfs_nameservice, yarn_cluster_id, kafka_topics, hbase_znode_parent
//   faultline_agent_path     a preinstalled faultline-agent on the host
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/source_mark.h"
#include "base/status.h"

namespace faultline {

struct InventoryHost {
  std::string name;
  nlohmann::json vars = nlohmann::json::object();  // merged, see above
  std::vector<std::string> groups;                 // every group it is in, directly or not
  SourceMark mark;                                 // where the host was first named

  // Ansible connection variables with their defaults.
  std::string address() const;   // ansible_host, else the name
  int port() const;              // ansible_port, else 22
  std::string user() const;      // ansible_user, else "root"
  std::string key_file() const;  // ansible_ssh_private_key_file, else ""
  std::string transport() const; // faultline_transport, else "local" if ansible_connection
                                 // is local, else "ssh"
  // A string variable, or `fallback` when absent or not a string/number.
  std::string VarString(const std::string& key, const std::string& fallback = "") const;
  bool InGroup(const std::string& group) const;
};

struct InventoryGroup {
  std::string name;
  std::vector<std::string> hosts;     // every host, including those of child groups, sorted
  std::vector<std::string> children;  // direct child groups
  nlohmann::json vars = nlohmann::json::object();  // the group's own variables
  SourceMark mark;
};

struct Inventory {
  std::string path;
  std::map<std::string, InventoryHost> hosts;
  std::map<std::string, InventoryGroup> groups;  // always has "all" and "ungrouped"

  const InventoryHost* FindHost(const std::string& name) const;
  const InventoryGroup* FindGroup(const std::string& name) const;
  std::string name() const;  // faultline_name, else the file's base name
  bool production() const;   // faultline_production on all
};

// Reads an INI or YAML inventory (by content, like Ansible). Errors are kInvalid and
// start with "file:line:col: ".
Status LoadInventory(const std::string& path, Inventory* out);
// The same from text already read; `file_name` is used in marks and to tell INI from YAML
// by its extension (.yml/.yaml/.json are YAML, .ini/.cfg INI, anything else by content).
Status LoadInventoryText(const std::string& text, const std::string& file_name, Inventory* out);

}  // namespace faultline

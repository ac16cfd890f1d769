#include "lab/inventory_writer.h"

#include <map>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "lab/sys.h"

namespace faultline::lab {

namespace {

using json = nlohmann::json;

void Emit(YAML::Emitter& out, const json& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, x] : v.items()) {
      out << YAML::Key << k << YAML::Value;
      Emit(out, x);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : v) Emit(out, x);
    out << YAML::EndSeq;
  } else if (v.is_boolean()) {
    out << v.get<bool>();
  } else if (v.is_number_integer()) {
    out << v.get<long long>();
  } else if (v.is_number()) {
    out << v.get<double>();
  } else if (v.is_null()) {
    out << YAML::Null;
  } else {
    out << YAML::DoubleQuoted << v.get<std::string>();
  }
}

}  // namespace

Status WriteLabInventory(const json& state, const std::string& state_dir, const std::string& path) {
  const std::string supervisor = state.value("supervisor", "");
  const json& topo = state["topology"];
  json all_vars = {
      {"faultline_name", "lab"},
      {"faultline_transport", "ssh"},
      {"ansible_user", "root"},
      {"ansible_port", 22},
      {"ansible_ssh_private_key_file", state_dir + "/ssh/id_ed25519"},
      // Strict checking against the lab's own known_hosts, as Ansible would read it too.
      {"ansible_ssh_common_args", "-o UserKnownHostsFile=" + state_dir +
                                      "/ssh/known_hosts -o StrictHostKeyChecking=yes"},
      {"faultline_ssh_known_hosts", state_dir + "/ssh/known_hosts"},
      {"faultline_lab_state", state_dir},
      {"faultline_coord", state.value("coord", "")},
      {"zookeeper_client_port", 2181},
      {"zookeeper_connect", state.value("zk_connect", "")},
      {"hdfs_nameservice", topo.value("hdfs_nameservice", "")},
      {"yarn_cluster_id", topo.value("yarn_cluster_id", "")},
      {"kafka_topics", topo.value("kafka_topics", json::array())},
      {"hbase_znode_parent", topo.value("hbase_znode_parent", "")},
      {"hdfs_namenode_group", "namenode"},
      {"zookeeper_group", "zookeeper"},
  };
  std::vector<std::string> group_order;
  std::map<std::string, json> group_hosts;
  for (const auto& h : state["hosts"]) {
    const std::string g = h["group"], dir = h["dir"];
    if (!group_hosts.count(g)) group_order.push_back(g);
    const std::string sock = dir + "/supervisor.sock";
    json processes = json::object(), services = json::object(), logs = json::object();
    logs["sshd"] = dir + "/logs/sshd.log";
    processes["sshd"] = {{"pidfile", dir + "/run/sshd.pid"}};
    for (const auto& s : h["services"]) {
      const std::string name = s["name"];
      // Found by its pidfile; its service of the same name starts it again when a
      // process.kill is reverted.
      processes[name] = {{"pidfile", dir + "/run/" + name + ".pid"}, {"service", name}};
      auto cmd = [&](const char* verb) { return json::array({supervisor, "--socket", sock, verb, name}); };
      services[name] = {{"start", cmd("start")}, {"stop", cmd("stop")}, {"status", cmd("status")}};
      logs[name] = dir + "/logs/" + name + ".log";
    }
    json vars = {{"ansible_host", h["ip"]},
                 {"faultline_netns", h["netns"]},
                 {"faultline_data_dir", h["data_dir"]},
                 // Lab hosts share one filesystem: each host's agent keeps its own state, as
                 // it would under /run/faultline on a machine of its own.
                 {"faultline_agent_state_dir", dir + "/run/faultline"},
                 {"faultline_log_dir", dir + "/logs"},
                 {"faultline_logs", logs},
                 {"faultline_processes", processes},
                 {"faultline_services", services}};
    if (h.contains("zk_id")) {
      vars["zookeeper_myid"] = h["zk_id"];
      vars["zookeeper_config"] = dir + "/conf/zoo.cfg";
    }
    const json extra = h.value("vars", json::object());
    for (const auto& [k, x] : extra.items()) vars[k] = x;
    for (const auto& s : h["services"]) {
      if (s.value("port", 0) > 0 && s["name"] != "zookeeper") vars[s["name"].get<std::string>() + "_port"] = s["port"];
    }
    group_hosts[g][h["name"].get<std::string>()] = vars;
  }

  YAML::Emitter out;
  out << YAML::Comment("Written by `faultline lab up`; removed by `faultline lab down`.") << YAML::Newline;
  out << YAML::BeginMap << YAML::Key << "all" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "vars" << YAML::Value;
  Emit(out, all_vars);
  out << YAML::Key << "children" << YAML::Value << YAML::BeginMap;
  for (const auto& g : group_order) {
    out << YAML::Key << g << YAML::Value << YAML::BeginMap;
    if (g == "zookeeper") {
      out << YAML::Key << "vars" << YAML::Value << YAML::BeginMap << YAML::Key << "faultline_quorum"
          << YAML::Value << true << YAML::EndMap;
    }
    out << YAML::Key << "hosts" << YAML::Value;
    Emit(out, group_hosts[g]);
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  if (!out.good()) return Status::Internal("inventory: " + out.GetLastError());
  return WriteFileAtomic(path, std::string(out.c_str()) + "\n", 0644);
}

}  // namespace faultline::lab

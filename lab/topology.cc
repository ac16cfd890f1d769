#include "lab/topology.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include <yaml-cpp/yaml.h>

#include "base/duration.h"

namespace faultline::lab {

namespace {

std::vector<LabService> KnownServices(const std::string& group) {
  // The stand-ins of services/ are one program, fl-svc, with a mode per daemon.
  if (group == "namenode") return {{"namenode", "fl-svc", 8020}, {"zkfc", "fl-svc", 8019}};
  if (group == "resourcemanager") return {{"resourcemanager", "fl-svc", 8088}};
  if (group == "hbase_master") return {{"hmaster", "fl-svc", 16000}};
  if (group == "hbase_rs") return {{"regionserver", "fl-svc", 16020}};
  if (group == "kafka") return {{"kafka", "fl-svc", 9092}};
  return {};  // zookeeper: the coordination backend, chosen by --coord
}

std::string Mark(const std::string& path, const YAML::Node& node) {
  const auto m = node.Mark();
  if (m.line < 0) return path;
  return path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::vector<std::string> Range(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

}  // namespace

const LabGroup* LabTopology::FindGroup(const std::string& name) const {
  for (const auto& g : groups) if (g.name == name) return &g;
  return nullptr;
}

std::vector<std::string> LabTopology::AllHosts() const {
  std::vector<std::string> out;
  for (const auto& g : groups) out.insert(out.end(), g.hosts.begin(), g.hosts.end());
  return out;
}

LabTopology DefaultTopology(int zk_count) {
  LabTopology t;
  t.groups = {
      {"zookeeper", Range("zk", zk_count), {}},
      {"namenode", {"nn1", "nn2"}, KnownServices("namenode")},
      {"resourcemanager", {"rm1", "rm2"}, KnownServices("resourcemanager")},
      {"hbase_master", {"hm1", "hm2"}, KnownServices("hbase_master")},
      {"hbase_rs", Range("rs", 3), KnownServices("hbase_rs")},
      {"kafka", Range("kafka", 3), KnownServices("kafka")},
  };
  return t;
}

std::vector<std::string> ExpandHostRange(const std::string& pattern) {
  auto open = pattern.find('[');
  auto colon = pattern.find(':', open == std::string::npos ? 0 : open);
  auto close = pattern.find(']', colon == std::string::npos ? 0 : colon);
  if (open == std::string::npos || colon == std::string::npos || close == std::string::npos) return {pattern};
  const std::string a = pattern.substr(open + 1, colon - open - 1);
  const std::string b = pattern.substr(colon + 1, close - colon - 1);
  if (a.empty() || b.empty() || !std::all_of(a.begin(), a.end(), ::isdigit) ||
      !std::all_of(b.begin(), b.end(), ::isdigit) || a.size() > 4 || b.size() > 4) {
    return {pattern};
  }
  int from = std::stoi(a), to = std::stoi(b);
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) {
    std::string num = std::to_string(i);
    // "zk[01:03]" keeps its zero padding, as Ansible does.
    if (a.size() > 1 && a[0] == '0') num = std::string(a.size() - std::min(a.size(), num.size()), '0') + num;
    out.push_back(pattern.substr(0, open) + num + pattern.substr(close + 1));
  }
  return out;
}

Status LoadTopology(const std::string& path, int zk_count, LabTopology* out) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::Invalid(path + ": cannot read the topology file");
  } catch (const YAML::Exception& e) {
    return Status::Invalid(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return Status::Invalid(path + ": expected a mapping (subnet, bridge, groups, ...)");
  LabTopology t;
  t.groups.clear();
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "subnet") t.subnet = v.as<std::string>();
      else if (key == "bridge") t.bridge = v.as<std::string>();
      else if (key == "netns_prefix") t.netns_prefix = v.as<std::string>();
      else if (key == "hdfs_nameservice") t.hdfs_nameservice = v.as<std::string>();
      else if (key == "yarn_cluster_id") t.yarn_cluster_id = v.as<std::string>();
      else if (key == "hbase_znode_parent") t.hbase_znode_parent = v.as<std::string>();
      else if (key == "kafka_topics") t.kafka_topics = v.as<std::vector<std::string>>();
      else if (key == "data_size") {
        std::string why;
        auto bytes = ParseBytes(v.as<std::string>(), &why);
        if (!bytes || *bytes < (1ull << 20)) {
          return Status::Invalid(Mark(path, v) + ": data_size: " + (bytes ? "at least 1MiB" : why));
        }
        t.data_bytes = *bytes;
      } else if (key == "groups") {
        if (!v.IsMap()) return Status::Invalid(Mark(path, v) + ": groups: expected a mapping of group to host list");
        for (const auto& g : v) {
          LabGroup group;
          group.name = g.first.as<std::string>();
          if (!g.second.IsSequence()) {
            return Status::Invalid(Mark(path, g.second) + ": group " + group.name + ": expected a list of hosts");
          }
          for (const auto& h : g.second) {
            for (auto& name : ExpandHostRange(h.as<std::string>())) group.hosts.push_back(name);
          }
          group.services = KnownServices(group.name);
          t.groups.push_back(std::move(group));
        }
      } else if (key == "services") {
        // Applied after all groups are read (below).
      } else {
        return Status::Invalid(Mark(path, kv.first) + ": unknown key '" + key +
                               "' (expected subnet, bridge, netns_prefix, data_size, groups, services, "
                               "hdfs_nameservice, yarn_cluster_id, kafka_topics, hbase_znode_parent)");
      }
    }
    if (root["services"]) {
      const YAML::Node s = root["services"];
      if (!s.IsMap()) return Status::Invalid(Mark(path, s) + ": services: expected a mapping of group to list");
      for (const auto& g : s) {
        const std::string gname = g.first.as<std::string>();
        auto it = std::find_if(t.groups.begin(), t.groups.end(), [&](const LabGroup& x) { return x.name == gname; });
        if (it == t.groups.end()) return Status::Invalid(Mark(path, g.first) + ": services for unknown group '" + gname + "'");
        it->services.clear();
        for (const auto& svc : g.second) {
          LabService ls;
          ls.name = svc["name"].as<std::string>();
          ls.program = svc["program"] ? svc["program"].as<std::string>() : ls.name;
          ls.port = svc["port"] ? svc["port"].as<int>() : 0;
          it->services.push_back(ls);
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!t.FindGroup("zookeeper")) t.groups.insert(t.groups.begin(), LabGroup{"zookeeper", Range("zk", zk_count), {}});
  FAULTLINE_RETURN_IF_ERROR(ValidateTopology(t, path));
  *out = std::move(t);
  return Status::Ok();
}

Status ValidateTopology(const LabTopology& t, const std::string& where) {
  Ipv4Net net;
  if (!ParseIpv4Net(t.subnet, &net) || net.prefix < 8 || net.prefix > 28) {
    return Status::Invalid(where + ": subnet '" + t.subnet + "': expected an IPv4 network a.b.c.d/8..28");
  }
  if (t.bridge.empty() || t.bridge.size() > 15) {
    return Status::Invalid(where + ": bridge name '" + t.bridge + "' must be 1 to 15 characters");
  }
  std::set<std::string> seen;
  size_t count = 0;
  for (const auto& g : t.groups) {
    for (const auto& h : g.hosts) {
      ++count;
      if (h.empty() || !std::all_of(h.begin(), h.end(), [](char c) { return std::islower(c) || std::isdigit(c) || c == '-'; })) {
        return Status::Invalid(where + ": host name '" + h + "': use lower-case letters, digits and '-'");
      }
      if (t.netns_prefix.size() + h.size() > 15) {
        return Status::Invalid(where + ": host name '" + h + "' is too long: with prefix '" + t.netns_prefix +
                               "' it must fit an interface name (15 characters)");
      }
      if (!seen.insert(h).second) {
        return Status::Invalid(where + ": host '" + h + "' is in two groups (a lab host belongs to one)");
      }
    }
  }
  const LabGroup* zk = t.FindGroup("zookeeper");
  if (!zk || zk->hosts.empty()) return Status::Invalid(where + ": the zookeeper group needs at least one host");
  if (count + 10 + 1 > net.Size()) {
    return Status::Invalid(where + ": subnet " + t.subnet + " is too small for " + std::to_string(count) +
                           " hosts (they take addresses from .10 upwards)");
  }
  return Status::Ok();
}

bool Ipv4Net::Overlaps(const Ipv4Net& o) const {
  int p = std::min(prefix, o.prefix);
  unsigned int mask = p == 0 ? 0 : ~0u << (32 - p);
  return (base & mask) == (o.base & mask);
}

bool ParseIpv4Net(const std::string& text, Ipv4Net* out) {
  std::string addr = text;
  int prefix = 32;
  auto slash = text.find('/');
  if (slash != std::string::npos) {
    addr = text.substr(0, slash);
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
    prefix = std::stoi(p);
    if (prefix > 32) return false;
  }
  in_addr a;
  if (::inet_pton(AF_INET, addr.c_str(), &a) != 1) return false;
  unsigned int host = ntohl(a.s_addr);
  unsigned int mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
  out->base = host & mask;
  out->prefix = prefix;
  return true;
}

std::string Ipv4ToString(unsigned int addr) {
  in_addr a;
  a.s_addr = htonl(addr);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace faultline::lab

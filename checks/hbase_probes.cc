// HBase role probes: the masters and RegionServers from the znodes under hbase_znode_parent
// (default /hbase); regions in transition and dead RegionServers from the active master's JMX
// (checks/hbase_jmx.h), which is where a real cluster publishes them.
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "checks/hbase_jmx.h"
#include "checks/hbase_znodes.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The inventory host a ServerName names: its host must be the inventory host's
// hbase_hostname, ansible_host or name, compared lower-cased (HBase lower-cases the host of
// every ServerName: hbase-common/src/main/java/org/apache/hadoop/hbase/ServerName.java), and
// when the host sets hbase_port (several servers on one machine, as in a lab) the port must
// match too. Unknown servers are reported by their ServerName text.
std::string HostOfServer(const Inventory& inventory, const std::string& server_name) {
  ServerName sn;
  if (!ServerName::Parse(server_name, &sn)) return server_name;
  const std::string want = Lower(sn.host);
  std::string loose;
  for (const auto& [name, host] : inventory.hosts) {
    bool host_matches =
        Lower(host.VarString("hbase_hostname")) == want || Lower(host.address()) == want || Lower(name) == want;
    if (!host_matches) continue;
    std::string port = host.VarString("hbase_port");
    if (port == std::to_string(sn.port)) return name;
    if (port.empty() && loose.empty()) loose = name;
  }
  return loose.empty() ? server_name : loose;
}

struct HBaseView {
  ZkClient* zk = nullptr;
  std::string parent;
  milliseconds timeout{2000};
};

using HBaseFn = std::function<Observation(ProbeContext&, const HBaseView&)>;

void RegisterHBase(const std::string& name, const std::string& summary, bool yields_hosts, HBaseFn fn) {
  ProbeInfo info;
  info.name = name;
  info.summary = summary;
  info.yields_hosts = yields_hosts;
  info.params = {{"znode_parent", false, "default: hbase_znode_parent, else /hbase", ""},
                 {"group", false, "the ZooKeeper servers' group", "group"}};
  ProbeRegistry::Global().Register(info, [=](const ProbeSpec& spec, const Inventory& inventory,
                                             std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, {"znode_parent", "group"}));
    std::vector<ZkServer> servers;
    FAULTLINE_RETURN_IF_ERROR(ZkServersOf(inventory, ZkGroupFor(spec, inventory), &servers));
    std::string parent = ParamString(spec, "znode_parent", InventoryVar(inventory, "hbase_znode_parent", "/hbase"));
    auto session = std::make_shared<ZnodeSession>(ZkConnectString(inventory, servers));
    *out = std::make_unique<FnProbe>([=](ProbeContext& ctx, milliseconds timeout) {
      Status why;
      HBaseView view;
      view.zk = session->Reader(timeout, &why);
      if (!view.zk) return Observation::Unreachable(why.message());
      view.parent = parent;
      view.timeout = timeout;
      return fn(ctx, view);
    });
    return Status::Ok();
  });
}

// Children of a znode; a missing parent is an empty list.
bool ChildrenOf(const HBaseView& v, const std::string& path, std::vector<std::string>* out, Status* why) {
  ZkError e = v.zk->Children(path, out, why);
  if (e == ZkError::kNoNode) {
    out->clear();
    return true;
  }
  return e == ZkError::kOk;
}

Observation HostList(ProbeContext& ctx, const HBaseView& v, const std::string& dir, const std::string& role) {
  std::vector<std::string> children;
  Status why;
  if (!ChildrenOf(v, dir, &children, &why)) return Observation::Unreachable(why.message());
  std::vector<std::string> hosts;
  Observation o;
  for (const auto& c : children) {
    std::string h = HostOfServer(ctx.inventory(), c);
    hosts.push_back(h);
    o.roles[h] = role;
  }
  std::sort(hosts.begin(), hosts.end());
  o.value = hosts;
  return o;
}

// The active master's JMX servlet: hbase_master_jmx_url of its inventory host when set, else
// http://<the host of its ServerName>:<port>/jmx, the port being the host's
// hbase_master_info_port, else the info port the master wrote into <parent>/master, else
// 16010. Without an active master there is no JMX to read: kUnavailable saying so.
Status ActiveMasterJmxUrl(ProbeContext& ctx, const HBaseView& v, std::string* url) {
  std::string data;
  Status why;
  ZkError e = v.zk->Get(v.parent + "/master", &data, nullptr, &why);
  if (e == ZkError::kNoNode) {
    return Status::Unavailable("no active master (" + v.parent + "/master does not exist), so no master JMX to read");
  }
  if (e != ZkError::kOk) return why;
  ServerName sn;
  int znode_info_port = 0;
  Status st = DecodeHBaseMaster(data, &sn, &znode_info_port);
  if (!st.ok()) return Status::Unavailable(v.parent + "/master: " + st.message());
  int port = znode_info_port > 0 ? znode_info_port : kHBaseMasterInfoPort;
  const InventoryHost* host = ctx.inventory().FindHost(HostOfServer(ctx.inventory(), sn.ToString()));
  if (host) {
    std::string base = host->VarString("hbase_master_jmx_url");
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (!base.empty()) {
      if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
        return Status::Invalid("inventory " + ctx.inventory().path + ": host " + host->name + ": hbase_master_jmx_url '" +
                               base + "' is not an http:// or https:// URL (the master's JMX servlet, e.g. "
                               "http://hm1.example.com:16010/jmx)");
      }
      *url = base;
      return Status::Ok();
    }
    std::string text = host->VarString("hbase_master_info_port");
    if (!text.empty()) {
      char* end = nullptr;
      long p = std::strtol(text.c_str(), &end, 10);
      if (*end != '\0' || p < 1 || p > 65535) {
        return Status::Invalid("inventory " + ctx.inventory().path + ": host " + host->name +
                               ": hbase_master_info_port '" + text + "' is not a port (1-65535)");
      }
      port = static_cast<int>(p);
    }
  }
  *url = HBaseMasterJmxUrl(sn.host, port);
  return Status::Ok();
}

// One bean of the active master's JMX; `decode` turns the answer into the observation.
Observation FromMasterJmx(ProbeContext& ctx, const HBaseView& v, const std::string& bean,
                          const std::function<Observation(const nlohmann::json&, const std::string&)>& decode) {
  std::string url;
  Status st = ActiveMasterJmxUrl(ctx, v, &url);
  if (!st.ok()) return Observation::Unreachable(st.message());
  nlohmann::json answer;
  st = ReadJmxQuery(url, bean, v.timeout, &answer);
  if (!st.ok()) return Observation::Unreachable(st.message());
  return decode(answer, url);
}

}  // namespace

void RegisterHBaseProbes() {
  RegisterHBase("hbase.master", "the active HMaster's host, from <parent>/master; null when none", true,
                [](ProbeContext& ctx, const HBaseView& v) {
                  std::string data;
                  Status why;
                  ZkError e = v.zk->Get(v.parent + "/master", &data, nullptr, &why);
                  if (e == ZkError::kNoNode) return Observation::Value(nullptr);
                  if (e != ZkError::kOk) return Observation::Unreachable(why.message());
                  ServerName sn;
                  Status st = DecodeHBaseMaster(data, &sn);
                  if (!st.ok()) return Observation::Unreachable(v.parent + "/master: " + st.message());
                  std::string h = HostOfServer(ctx.inventory(), sn.ToString());
                  Observation o = Observation::Value(h);
                  o.roles[h] = "master";
                  return o;
                });
  RegisterHBase("hbase.backup_masters", "hosts of the waiting masters, from <parent>/backup-masters", true,
                [](ProbeContext& ctx, const HBaseView& v) {
                  return HostList(ctx, v, v.parent + "/backup-masters", "backup-master");
                });
  RegisterHBase("hbase.live_rs", "hosts of the live RegionServers, from <parent>/rs", true,
                [](ProbeContext& ctx, const HBaseView& v) { return HostList(ctx, v, v.parent + "/rs", "regionserver"); });
  RegisterHBase("hbase.dead_rs",
                "hosts of the RegionServers the active master holds as dead (its JMX: Master,sub=Server "
                "tag.deadRegionServers)",
                true, [](ProbeContext& ctx, const HBaseView& v) {
                  return FromMasterJmx(ctx, v, kHBaseMasterServerBean, [&](const nlohmann::json& answer,
                                                                           const std::string& url) {
                    HBaseDeadServers dead;
                    Status st = DecodeHBaseDeadServers(answer, &dead);
                    if (!st.ok()) return Observation::Unreachable(url + ": " + st.message());
                    std::vector<std::string> hosts;
                    Observation o;
                    for (const auto& d : dead.server_names) {
                      std::string h = HostOfServer(ctx.inventory(), d);
                      hosts.push_back(h);
                      o.roles[h] = "dead";
                    }
                    std::sort(hosts.begin(), hosts.end());
                    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
                    o.value = hosts;
                    return o;
                  });
                });
  RegisterHBase("hbase.rit",
                "regions in transition, from the active master's JMX (Master,sub=AssignmentManager ritCount)", false,
                [](ProbeContext& ctx, const HBaseView& v) {
                  return FromMasterJmx(ctx, v, kHBaseAssignmentManagerBean,
                                       [](const nlohmann::json& answer, const std::string& url) {
                                         int64_t rit = 0;
                                         Status st = DecodeHBaseRitCount(answer, &rit);
                                         if (!st.ok()) return Observation::Unreachable(url + ": " + st.message());
                                         return Observation::Value(rit);
                                       });
                });
}

}  // namespace faultline

// HBase role probes, from the znodes under hbase_znode_parent (default /hbase).
#include <algorithm>

#include "checks/hbase_znodes.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

// The inventory host a ServerName names: its host must be the inventory host's
// hbase_hostname, ansible_host or name, and when the host sets hbase_port (several servers
// on one machine, as in a lab) the port must match too. Unknown servers are reported by
// their ServerName text.
std::string HostOfServer(const Inventory& inventory, const std::string& server_name) {
  ServerName sn;
  if (!ServerName::Parse(server_name, &sn)) return server_name;
  std::string loose;
  for (const auto& [name, host] : inventory.hosts) {
    bool host_matches = host.VarString("hbase_hostname") == sn.host || host.address() == sn.host || name == sn.host;
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

// The lab master's assignment table; regions not OPEN on a live server are in transition.
Observation RegionsInTransition(const HBaseView& v) {
  std::vector<std::string> live, regions;
  Status why;
  if (!ChildrenOf(v, v.parent + "/rs", &live, &why)) return Observation::Unreachable(why.message());
  if (!ChildrenOf(v, HBaseAssignmentDir(v.parent), &regions, &why)) return Observation::Unreachable(why.message());
  int rit = 0;
  for (const auto& r : regions) {
    std::string data;
    ZkError e = v.zk->Get(HBaseAssignmentDir(v.parent) + "/" + r, &data, nullptr, &why);
    if (e == ZkError::kNoNode) continue;
    if (e != ZkError::kOk) return Observation::Unreachable(why.message());
    RegionAssignment a;
    if (!RegionAssignment::FromJson(data, &a)) {
      return Observation::Unreachable(HBaseAssignmentDir(v.parent) + "/" + r + ": not an assignment record");
    }
    bool on_live = std::find(live.begin(), live.end(), a.server) != live.end();
    if (a.state != "OPEN" || !on_live) ++rit;
  }
  return Observation::Value(rit);
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
                "RegionServers the master has processed as dead and that have not come back (lab master's record)",
                true, [](ProbeContext& ctx, const HBaseView& v) {
                  std::vector<std::string> dead, live;
                  Status why;
                  if (!ChildrenOf(v, HBaseDeadDir(v.parent), &dead, &why) ||
                      !ChildrenOf(v, v.parent + "/rs", &live, &why)) {
                    return Observation::Unreachable(why.message());
                  }
                  std::vector<std::string> hosts;
                  Observation o;
                  for (const auto& d : dead) {
                    if (std::find(live.begin(), live.end(), d) != live.end()) continue;
                    std::string h = HostOfServer(ctx.inventory(), d);
                    hosts.push_back(h);
                    o.roles[h] = "dead";
                  }
                  std::sort(hosts.begin(), hosts.end());
                  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
                  o.value = hosts;
                  return o;
                });
  RegisterHBase("hbase.rit", "regions in transition or unassigned (not OPEN on a live RegionServer)", false,
                [](ProbeContext&, const HBaseView& v) { return RegionsInTransition(v); });
}

}  // namespace faultline

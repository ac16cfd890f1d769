// HDFS and YARN role probes: the elector znodes, and each NameNode's own claim through
// `hdfs haadmin -getAllServiceState` run over the transport.
#include <algorithm>
#include <sstream>

#include "checks/hdfs_znodes.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"
#include "faults/transport.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

Status ZkSetup(const ProbeSpec& spec, const Inventory& inventory, std::string* connect) {
  std::vector<ZkServer> servers;
  FAULTLINE_RETURN_IF_ERROR(ZkServersOf(inventory, ZkGroupFor(spec, inventory), &servers));
  *connect = ZkConnectString(inventory, servers);
  return Status::Ok();
}

std::string Where(const ProbeSpec& spec) {
  std::string m = spec.mark.ToString();
  return (m.empty() ? "" : m + ": ") + "probe " + spec.name;
}

// Reads an elector's lock znode; `decode` turns its data into (id, hostname).
using ElectorDecode = std::function<Status(const std::string& data, std::string* id, std::string* hostname)>;

void RegisterElectorProbe(const std::string& name, const std::string& summary, const std::string& dir_param,
                          const std::string& dir_var, const std::string& id_var,
                          std::function<std::string(const std::string&)> dir_of, ElectorDecode decode) {
  ProbeInfo info;
  info.name = name;
  info.summary = summary;
  info.yields_hosts = true;
  info.params = {{dir_param, false, "default: the inventory variable " + dir_var, ""},
                 {"group", false, "the ZooKeeper servers' group", "group"}};
  ProbeRegistry::Global().Register(info, [=](const ProbeSpec& spec, const Inventory& inventory,
                                             std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, {dir_param, "group"}));
    std::string id = ParamString(spec, dir_param, InventoryVar(inventory, dir_var));
    if (id.empty()) {
      return Status::Invalid(Where(spec) + ": no " + dir_param + " (set the parameter or the inventory variable " +
                             dir_var + ")");
    }
    std::string connect;
    FAULTLINE_RETURN_IF_ERROR(ZkSetup(spec, inventory, &connect));
    auto session = std::make_shared<ZnodeSession>(connect);
    std::string lock = dir_of(id) + "/" + kElectorLock;
    *out = std::make_unique<FnProbe>([=](ProbeContext& ctx, milliseconds timeout) {
      Status why;
      ZkClient* zk = session->Reader(timeout, &why);
      if (!zk) return Observation::Unreachable(why.message());
      std::string data;
      ZkError e = zk->Get(lock, &data, nullptr, &why);
      if (e == ZkError::kNoNode) return Observation::Value(nullptr);
      if (e != ZkError::kOk) return Observation::Unreachable(why.message());
      std::string node_id, hostname;
      Status st = decode(data, &node_id, &hostname);
      if (!st.ok()) return Observation::Unreachable(lock + ": " + st.message());
      std::string host = HostByVar(ctx.inventory(), id_var, node_id, hostname);
      Observation o = Observation::Value(host.empty() ? node_id : host);
      o.roles[host.empty() ? node_id : host] = "active";
      return o;
    });
    return Status::Ok();
  });
}

// The NameNode hosts: the group named by hdfs_namenode_group (default "namenode").
std::vector<std::string> NameNodeHosts(const Inventory& inventory, const std::string& group) {
  const InventoryGroup* g = inventory.FindGroup(group);
  return g ? g->hosts : std::vector<std::string>{};
}

std::vector<std::string> HaAdminArgv(const InventoryHost& host) {
  auto it = host.vars.find("hdfs_haadmin_command");
  if (it != host.vars.end()) {
    std::vector<std::string> argv;
    if (it->is_array()) {
      for (const auto& v : *it) argv.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    } else if (it->is_string()) {
      std::istringstream words(it->get<std::string>());
      std::string w;
      while (words >> w) argv.push_back(w);
    }
    if (!argv.empty()) return argv;
  }
  return {"hdfs", "haadmin", "-getAllServiceState"};
}

// Maps an haadmin address ("nn1.example.com:8020") to an inventory host.
std::string HostOfAddress(const Inventory& inventory, const std::vector<std::string>& namenodes,
                          const std::string& address) {
  std::string hostpart = address.substr(0, address.rfind(':'));
  // InetSocketAddress prints "name/1.2.3.4"; either half may be what the inventory knows.
  std::string name = hostpart.substr(0, hostpart.find('/'));
  std::string ip = hostpart.find('/') == std::string::npos ? name : hostpart.substr(hostpart.find('/') + 1);
  // An exact hdfs_namenode_address wins (several NameNodes may share one machine in a lab);
  // otherwise the host part names the inventory host.
  for (const auto& h : namenodes) {
    const InventoryHost* ih = inventory.FindHost(h);
    if (!ih) continue;
    std::string rpc = ih->VarString("hdfs_namenode_address");
    if (rpc == address || rpc == name + address.substr(address.rfind(':'))) return h;
  }
  for (const auto& h : namenodes) {
    const InventoryHost* ih = inventory.FindHost(h);
    if (!ih || !ih->VarString("hdfs_namenode_address").empty()) continue;
    if (h == name || ih->address() == name || ih->address() == ip) return h;
  }
  return "";
}

// Runs haadmin on the first NameNode host that answers; fills {host: state}.
Observation HaAdminStates(ProbeContext& ctx, const std::vector<std::string>& namenodes, milliseconds timeout,
                          std::map<std::string, std::string>* states) {
  std::string errors;
  for (const auto& h : namenodes) {
    const InventoryHost* host = ctx.inventory().FindHost(h);
    Transport* t = ctx.TransportFor(h);
    if (!host || !t) continue;
    ExecRequest req;
    req.argv = HaAdminArgv(*host);
    req.timeout = timeout;
    ExecResult res;
    Status st = t->Exec(req, &res);
    if (!st.ok()) {
      errors += (errors.empty() ? "" : "; ") + h + ": " + st.message();
      continue;
    }
    auto parsed = ParseHaAdminAllServiceState(res.stdout_data);
    if (parsed.empty()) {
      errors += (errors.empty() ? "" : "; ") + h + ": " + req.argv[0] + " exited " +
                std::to_string(res.exit_status) + " without a state line: " + res.stderr_data.substr(0, 200);
      continue;
    }
    for (const auto& s : parsed) {
      std::string name = HostOfAddress(ctx.inventory(), namenodes, s.address);
      (*states)[name.empty() ? s.address : name] = s.state;
    }
    return Observation::Value(nullptr);
  }
  return Observation::Unreachable("hdfs haadmin: " + (errors.empty() ? "no NameNode host reachable" : errors));
}

void RegisterHaAdminProbe(const std::string& name, const std::string& summary,
                          std::function<nlohmann::json(const std::map<std::string, std::string>&)> value) {
  ProbeInfo info;
  info.name = name;
  info.summary = summary;
  info.params = {{"group", false, "the NameNode hosts' group (default: hdfs_namenode_group, else namenode)", "group"}};
  ProbeRegistry::Global().Register(info, [=](const ProbeSpec& spec, const Inventory& inventory,
                                             std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, {"group"}));
    std::string group = ParamString(spec, "group", InventoryVar(inventory, "hdfs_namenode_group", "namenode"));
    auto namenodes = NameNodeHosts(inventory, group);
    if (namenodes.empty()) {
      return Status::Invalid(Where(spec) + ": no hosts in the NameNode group '" + group + "'");
    }
    *out = std::make_unique<FnProbe>([=](ProbeContext& ctx, milliseconds timeout) {
      std::map<std::string, std::string> states;
      Observation o = HaAdminStates(ctx, namenodes, timeout, &states);
      if (o.unreachable) return o;
      o.value = value(states);
      o.roles = states;
      return o;
    });
    return Status::Ok();
  });
}

}  // namespace

void RegisterHdfsProbes() {
  RegisterElectorProbe(
      "hdfs.active", "the active NameNode's host, from the ActiveStandbyElectorLock znode; null when none",
      "nameservice", "hdfs_nameservice", "hdfs_namenode_id", HdfsElectorDir,
      [](const std::string& data, std::string* id, std::string* hostname) {
        ActiveNodeInfo info;
        FAULTLINE_RETURN_IF_ERROR(DecodeActiveNodeInfo(data, &info));
        *id = info.namenode_id;
        *hostname = info.hostname;
        return Status::Ok();
      });
  RegisterHaAdminProbe("hdfs.active_count",
                       "how many NameNodes claim to be active, each asked itself (hdfs haadmin -getAllServiceState)",
                       [](const std::map<std::string, std::string>& states) {
                         int n = 0;
                         for (const auto& [h, s] : states) n += s == "active";
                         return nlohmann::json(n);
                       });
  RegisterHaAdminProbe("hdfs.states", "each NameNode's own state: active, standby, or unreachable",
                       [](const std::map<std::string, std::string>& states) { return nlohmann::json(states); });
}

void RegisterYarnProbes() {
  RegisterElectorProbe(
      "yarn.active", "the active ResourceManager's host, from /yarn-leader-election/<cluster>; null when none",
      "cluster", "yarn_cluster_id", "yarn_rm_id", YarnElectorDir,
      [](const std::string& data, std::string* id, std::string* hostname) {
        ActiveRmInfo info;
        FAULTLINE_RETURN_IF_ERROR(DecodeActiveRmInfo(data, &info));
        *id = info.rm_id;
        hostname->clear();
        return Status::Ok();
      });
}

}  // namespace faultline

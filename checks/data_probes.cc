// Data-path probes: a write and a read through the service's own client, run over the
// transport on a host. Availability is observed, not assumed: the probe is true only when
// the value written comes back.
//
// The command is an argv from the inventory (<system>_rw_command on the host); the probe
// appends a fresh token as the last argument and expects the command to exit 0 and print
// the token. The lab's is `fl-svc client <system> ... --token`; on a production cluster a
// small wrapper around `hdfs dfs -put/-cat`, `hbase shell` or the console producer/consumer.
#include <atomic>
#include <sstream>

#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"
#include "faults/transport.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> ArgvVar(const InventoryHost& host, const std::string& key) {
  std::vector<std::string> argv;
  auto it = host.vars.find(key);
  if (it == host.vars.end()) return argv;
  if (it->is_array()) {
    for (const auto& v : *it) argv.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  } else if (it->is_string()) {
    std::istringstream words(it->get<std::string>());
    std::string w;
    while (words >> w) argv.push_back(w);
  }
  return argv;
}

void RegisterDataProbe(const std::string& system, const std::string& default_group) {
  std::string name = system + ".rw";
  std::string var = system + "_rw_command";
  ProbeInfo info;
  info.name = name;
  info.summary = "true when a " + system + " write and read-back succeed (runs " + var + " on a host)";
  info.params = {{"host", false, "where to run the client (default: the first host of " + default_group +
                                     " that sets " + var + ")", "host"}};
  ProbeRegistry::Global().Register(info, [=](const ProbeSpec& spec, const Inventory& inventory,
                                             std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, {"host"}));
    std::string where = spec.mark.ToString();
    where = (where.empty() ? "" : where + ": ") + "probe " + name;
    std::string host = ParamString(spec, "host");
    if (host.empty()) {
      for (const auto& [n, h] : inventory.hosts) {
        if (h.vars.contains(var) && (h.InGroup(default_group) || host.empty())) {
          host = n;
          if (h.InGroup(default_group)) break;
        }
      }
    }
    const InventoryHost* h = inventory.FindHost(host);
    if (!h) return Status::Invalid(where + ": no host sets " + var + " (name one with the host parameter)");
    std::vector<std::string> argv = ArgvVar(*h, var);
    if (argv.empty()) return Status::Invalid(where + ": host " + host + " has no " + var + " (an argv list)");
    auto counter = std::make_shared<std::atomic<long>>(0);
    *out = std::make_unique<FnProbe>([=](ProbeContext& ctx, milliseconds timeout) {
      Transport* t = ctx.TransportFor(host);
      if (!t) return Observation::Unreachable(host + ": no transport");
      std::string token = "faultline-" + std::to_string(static_cast<long long>(ctx.StartedAtEpoch())) + "-" +
                          std::to_string(counter->fetch_add(1));
      ExecRequest req;
      req.argv = argv;
      req.argv.push_back(token);
      req.timeout = timeout;
      ExecResult res;
      Status st = t->Exec(req, &res);
      if (st.code() == Status::Code::kTimeout) {
        // The client ran and the write did not complete in time: that is the answer
        // ("writes stall"), not a failure to observe.
        Observation stalled = Observation::Value(false);
        stalled.error = host + ": " + st.message();
        return stalled;
      }
      if (!st.ok()) return Observation::Unreachable(host + ": " + st.message());
      Observation o = Observation::Value(res.exit_status == 0 && res.stdout_data.find(token) != std::string::npos);
      if (!o.value.get<bool>()) {
        std::string why = res.stderr_data.empty() ? res.stdout_data : res.stderr_data;
        o.error = host + ": " + argv[0] + " exited " + std::to_string(res.exit_status) + ": " + why.substr(0, 300);
      }
      return o;
    });
    return Status::Ok();
  });
}

}  // namespace

void RegisterDataProbes() {
  RegisterDataProbe("hdfs", "namenode");
  RegisterDataProbe("hbase", "regionserver");
  RegisterDataProbe("kafka", "kafka");
}

}  // namespace faultline

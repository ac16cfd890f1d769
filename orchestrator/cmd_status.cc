// `faultline status -i INV`: the roles right now, as the role probes see them, and every
// fault a faultline agent still holds on each host.
#include <cstdio>
#include <iostream>
#include <mutex>

#include "checks/probe.h"
#include "faults/agent_driver.h"
#include "orchestrator/agent_fanout.h"
#include "orchestrator/commands.h"

namespace faultline {

namespace {

class StatusContext : public ProbeContext {
 public:
  explicit StatusContext(const Inventory& inv) : inv_(inv), start_(std::chrono::steady_clock::now()) {}
  const Inventory& inventory() const override { return inv_; }
  Transport* TransportFor(const std::string& host) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = transports_.find(host);
    if (it != transports_.end()) return it->second.get();
    const InventoryHost* h = inv_.FindHost(host);
    if (!h) return nullptr;
    std::unique_ptr<Transport> t;
    if (!MakeTransport(*h, TransportOptions{}, &t).ok()) return nullptr;
    return (transports_[host] = std::move(t)).get();
  }
  double NowMs() const override {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }
  double StartedAtEpoch() const override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
           NowMs() / 1000;
  }

 private:
  const Inventory& inv_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Transport>> transports_;
};

// Role probes that need no parameters, sampled once each. A probe that does not apply
// to this inventory (no such group, nothing listening) shows as unreachable.
nlohmann::json SampleRoles(const Inventory& inv) {
  nlohmann::json roles = nlohmann::json::object();
  StatusContext ctx(inv);
  auto& reg = ProbeRegistry::Global();
  for (const auto& name : reg.Names()) {
    const ProbeInfo* info = reg.Find(name);
    if (!info || !info->yields_hosts) continue;
    bool needs_params = false;
    for (const auto& p : info->params) needs_params |= p.required;
    if (needs_params) continue;
    ProbeSpec spec;
    spec.name = name;
    std::unique_ptr<Probe> probe;
    if (!reg.Make(spec, inv, &probe).ok() || !probe) continue;
    Observation o = probe->Sample(ctx, std::chrono::milliseconds(3000));
    if (o.unreachable) {
      roles[name] = {{"error", o.error}};
    } else {
      roles[name] = o.value;
    }
  }
  return roles;
}

}  // namespace

int CmdStatus(const StatusOptions& options) {
  Inventory inv;
  Status st = LoadInventory(options.inventory, &inv);
  if (!st.ok()) {
    std::fprintf(stderr, "faultline status: %s\n", st.message().c_str());
    return kExitInvalid;
  }
  nlohmann::json hosts = nlohmann::json::object();
  std::mutex mu;
  bool unreachable = false;
  ForEachHost(inv, TransportOptions{}, 16, [&](const InventoryHost& h, Transport* t, const Status& made) {
    nlohmann::json entry;
    Status s = made;
    nlohmann::json faults = nlohmann::json::array();
    if (t) s = AgentListFaults(*t, h.vars, &faults);
    if (s.ok()) {
      entry["faults"] = faults;
    } else {
      entry["error"] = s.message();
    }
    std::lock_guard<std::mutex> lock(mu);
    unreachable |= !s.ok();
    hosts[h.name] = entry;
  });
  nlohmann::json out = {{"inventory", inv.name()}, {"roles", SampleRoles(inv)}, {"hosts", hosts}};
  if (options.json) {
    std::cout << out.dump(2) << "\n";
    return unreachable ? kExitInfra : kExitOk;
  }
  std::printf("inventory %s\n\nroles\n", inv.name().c_str());
  if (out["roles"].empty()) std::printf("  (no role probe applies)\n");
  for (const auto& [probe, value] : out["roles"].items()) {
    std::printf("  %-24s %s\n", probe.c_str(), value.dump().c_str());
  }
  std::printf("\nfaults held by faultline agents\n");
  size_t held = 0;
  for (const auto& [host, entry] : hosts.items()) {
    if (entry.contains("error")) {
      std::printf("  %-16s unreachable: %s\n", host.c_str(), entry["error"].get<std::string>().c_str());
      continue;
    }
    if (entry["faults"].empty()) {
      std::printf("  %-16s none\n", host.c_str());
      continue;
    }
    for (const auto& f : entry["faults"]) {
      ++held;
      std::string line = f.value("run", "") + ":" + f.value("fault", "") + " " + f.value("action", "");
      if (f.contains("lease_left_ms")) {
        long long left = f["lease_left_ms"];
        line += left > 0 ? " (lease " + std::to_string(left / 1000) + "s left)" : " (lease expired, reverting)";
      }
      if (!f.value("applied", false)) line += " (not confirmed applied)";
      if (f.contains("revert_error")) line += " (revert failed: " + f["revert_error"].get<std::string>() + ")";
      std::printf("  %-16s %s\n", host.c_str(), line.c_str());
    }
  }
  if (held) std::printf("\n%zu fault(s) held; `faultline cleanup -i %s` reverts them\n", held, options.inventory.c_str());
  return unreachable ? kExitInfra : kExitOk;
}

}  // namespace faultline

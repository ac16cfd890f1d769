#include "orchestrator/plan.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>

#include "base/shell.h"
#include "orchestrator/inventory_yaml.h"

namespace faultline {
namespace {

// FNV-1a: stable across platforms and releases, unlike std::hash.
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string ValueText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    // Shell-quoted, so a command's argv reads back exactly as it will run.
    std::vector<std::string> parts;
    for (const auto& e : v) parts.push_back(ValueText(e));
    return "[" + ShellJoin(parts) + "]";
  }
  return SafeDump(v);
}

std::string ParamsText(const nlohmann::json& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params.items()) parts.push_back(k + "=" + ValueText(v));
  return JoinNames(parts, " ");
}

std::string PickName(TargetSpec::Pick p) {
  switch (p) {
    case TargetSpec::Pick::kAll:
      return "all";
    case TargetSpec::Pick::kOne:
      return "one";
    case TargetSpec::Pick::kMajority:
      return "majority";
    case TargetSpec::Pick::kMinority:
      return "minority";
  }
  return "all";
}

std::string AtText(const std::optional<Millis>& at) {
  return at ? "+" + FormatDuration(*at) : "end";
}

}  // namespace

std::vector<std::string> PickHosts(std::vector<std::string> candidates, TargetSpec::Pick pick,
                                   const std::string& run_id, const std::string& salt) {
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  const size_t n = candidates.size();
  size_t k = n;
  switch (pick) {
    case TargetSpec::Pick::kAll:
      k = n;
      break;
    case TargetSpec::Pick::kOne:
      k = n ? 1 : 0;
      break;
    case TargetSpec::Pick::kMajority:
      k = n / 2 + 1;
      break;
    case TargetSpec::Pick::kMinority:
      k = n ? (n - 1) / 2 : 0;
      break;
  }
  if (k >= n) return candidates;
  size_t start = static_cast<size_t>(Fnv1a(run_id + '\0' + salt) % n);
  std::vector<std::string> out;
  for (size_t i = 0; i < k; ++i) out.push_back(candidates[(start + i) % n]);
  std::sort(out.begin(), out.end());
  return out;
}

Status ResolveStaticTarget(const TargetSpec& target, const Inventory& inventory,
                           const std::string& run_id, std::vector<std::string>* hosts,
                           const std::vector<std::string>& excluded) {
  hosts->clear();
  switch (target.kind) {
    case TargetSpec::Kind::kHost:
      for (const auto& h : target.names) {
        if (!inventory.FindHost(h)) {
          return Status::Invalid(target.mark.ToString() + ": host '" + h +
                                 "' is not in inventory " + inventory.path);
        }
        if (std::find(hosts->begin(), hosts->end(), h) == hosts->end()) hosts->push_back(h);
      }
      return Status::Ok();
    case TargetSpec::Kind::kGroup: {
      if (target.names.empty())
        return Status::Invalid(target.mark.ToString() + ": target names no group");
      const InventoryGroup* g = inventory.FindGroup(target.names[0]);
      if (!g) {
        return Status::Invalid(target.mark.ToString() + ": group '" + target.names[0] +
                               "' is not in inventory " + inventory.path);
      }
      std::vector<std::string> candidates;
      for (const auto& h : g->hosts) {
        if (std::find(excluded.begin(), excluded.end(), h) == excluded.end()) candidates.push_back(h);
      }
      *hosts = PickHosts(candidates, target.pick, run_id, "group:" + g->name);
      if (hosts->empty()) {
        return Status::Invalid(target.mark.ToString() + ": pick " + PickName(target.pick) +
                               " of group '" + g->name + "' (" + std::to_string(g->hosts.size()) + " hosts" +
                               (excluded.empty() ? std::string() : ", except " + JoinNames(excluded)) +
                               ") names no host");
      }
      return Status::Ok();
    }
    case TargetSpec::Kind::kRole:
      return Status::Invalid(target.mark.ToString() + ": role target '" +
                             (target.names.empty() ? std::string() : target.names[0]) +
                             "' is resolved at run time from its probe");
  }
  return Status::Internal("unknown target kind");
}

std::string DescribePredicate(const ProbeSpec& probe, const Predicate& p) {
  std::string s = probe.Key();
  switch (p.op) {
    case Predicate::Op::kEquals:
      return s + " = " + ValueText(p.operand);
    case Predicate::Op::kNotEquals:
      return s + " ≠ " + ValueText(p.operand);
    case Predicate::Op::kPresent:
      return s + " present";
    case Predicate::Op::kAbsent:
      return s + " absent";
    case Predicate::Op::kAtMost:
      return s + " ≤ " + ValueText(p.operand);
    case Predicate::Op::kAtLeast:
      return s + " ≥ " + ValueText(p.operand);
    case Predicate::Op::kChanged:
      return s + " changed";
  }
  return s;
}

std::string DescribeExpectation(const Expectation& e) {
  std::string s = DescribePredicate(e.probe, e.predicate);
  std::string anchor = e.anchor.empty() ? "the first fault" : e.anchor;
  std::string window;
  switch (e.window) {
    case Expectation::Window::kDrill:
      window = "the whole drill";
      break;
    case Expectation::Window::kDuringFault:
      window = "while " + anchor + " is applied";
      break;
    case Expectation::Window::kAfterRevert:
      window = "after " + anchor + " is reverted";
      break;
  }
  switch (e.mode) {
    case Expectation::Mode::kWithin:
      if (e.window == Expectation::Window::kAfterRevert)
        return s + " within " + FormatDuration(e.span) + " of reverting " + anchor;
      return s + " within " + FormatDuration(e.span) + " of " + anchor;
    case Expectation::Mode::kAlways:
      return s + " always, " + window;
    case Expectation::Mode::kNever:
      return "never " + s + ", " + window;
    case Expectation::Mode::kFor:
      return s + " for " + FormatDuration(e.span) + " on end, " + window;
  }
  return s;
}

Status BuildPlan(const Drill& drill, const Inventory& inventory, const std::string& run_id,
                 Plan* out) {
  *out = Plan();
  out->drill = drill.name;
  out->drill_file = drill.file;
  out->inventory = inventory.path;
  out->run_id = run_id;
  for (const auto& c : drill.steady_state)
    out->steady_state.push_back(DescribePredicate(c.probe, c.predicate));
  for (const auto& e : drill.expect)
    out->expectations.push_back(e.id + ": " + DescribeExpectation(e));

  std::vector<std::string> errors;
  std::map<std::string, std::vector<std::string>> landed;  // fault → hosts, when known now
  for (const auto& f : drill.faults) {
    std::vector<std::string> hosts, excluded;
    const bool role = f.target.kind == TargetSpec::Kind::kRole;
    bool at_run_time = role;
    for (const auto& x : f.target.except) {
      const std::string ref = FaultTargetRef(x);
      if (ref.empty()) {
        excluded.push_back(x);
      } else if (auto it = landed.find(ref); it != landed.end()) {
        excluded.insert(excluded.end(), it->second.begin(), it->second.end());
      } else {
        at_run_time = true;  // the hosts it leaves out are known only when that fault lands
      }
    }
    if (at_run_time) {
      hosts.push_back((role ? "role:" : "group:") + f.target.names.at(0));
    } else {
      Status st = ResolveStaticTarget(f.target, inventory, run_id, &hosts, excluded);
      if (!st.ok()) {
        errors.push_back(st.message());
        continue;
      }
      landed[f.name] = hosts;
    }
    std::string what = ParamsText(f.params);
    if (at_run_time || !f.target.except.empty()) {
      const std::string& name = f.target.names[0];
      what = "pick " + PickName(f.target.pick) + " of " + (role ? "the hosts " + name + " names" : "group " + name) +
             (f.target.except.empty() ? "" : ", except " + JoinNames(f.target.except)) +
             (at_run_time ? ", resolved at run time" + (role ? " from " + name : std::string()) : "") +
             (what.empty() ? "" : "; " + what);
    }
    for (const auto& h : hosts) {
      PlanAction inject{f.offset, h, true, at_run_time, f.name, f.action, what, f.mark};
      out->actions.push_back(inject);
      PlanAction revert{std::nullopt, h, false, at_run_time, f.name, f.action, "", f.mark};
      if (f.duration) revert.at = f.offset + *f.duration;
      out->actions.push_back(revert);
    }
  }
  if (!errors.empty()) return Status::Invalid(JoinNames(errors, "\n"));
  // Time order; at the same moment reverts go first (they free what an inject may need),
  // then by host and fault for a stable listing. "end" sorts last.
  std::stable_sort(out->actions.begin(), out->actions.end(),
                   [](const PlanAction& a, const PlanAction& b) {
                     Millis ta = a.at.value_or(Millis::max()), tb = b.at.value_or(Millis::max());
                     if (ta != tb) return ta < tb;
                     if (a.inject != b.inject) return !a.inject;
                     if (a.host != b.host) return a.host < b.host;
                     return a.fault < b.fault;
                   });
  for (const auto& a : out->actions) {
    if (std::find(out->host_order.begin(), out->host_order.end(), a.host) ==
        out->host_order.end()) {
      out->host_order.push_back(a.host);
    }
  }
  return Status::Ok();
}

std::string FormatPlan(const Plan& plan) {
  std::ostringstream os;
  os << "drill " << plan.drill << " (" << plan.drill_file << ") on inventory " << plan.inventory
     << "\n";
  os << "run id " << plan.run_id
     << " (group picks depend on it: pass the same --run-id to faultline run)\n";
  os << "\nbefore any fault, steady state must hold:\n";
  if (plan.steady_state.empty()) os << "  (no steady-state checks)\n";
  for (const auto& s : plan.steady_state) os << "  " << s << "\n";

  auto line = [&](const PlanAction& a, bool with_host) {
    std::string at = AtText(a.at);
    os << "  " << at << std::string(at.size() < 8 ? 8 - at.size() : 1, ' ')
       << (a.inject ? "inject " : "revert ");
    if (with_host) {
      os << a.host << std::string(a.host.size() < 16 ? 16 - a.host.size() : 1, ' ');
    }
    os << a.fault << " (" << a.action << ")";
    if (a.inject && !a.what.empty()) os << "  " << a.what;
    os << "\n";
  };
  os << "\ntimeline (from the first injection; 'end' = when the fault phase ends):\n";
  for (const auto& a : plan.actions) line(a, true);
  os << "\nhost by host:\n";
  for (const auto& h : plan.host_order) {
    os << h << (h.rfind("role:", 0) == 0 ? "  (resolved at run time)" : "") << "\n";
    for (const auto& a : plan.actions) {
      if (a.host == h) line(a, false);
    }
  }
  os << "\nexpectations:\n";
  if (plan.expectations.empty()) os << "  (none)\n";
  for (const auto& e : plan.expectations) os << "  " << e << "\n";
  os << "\nthen every fault is reverted and steady state must hold again.\n";
  return os.str();
}

}  // namespace faultline

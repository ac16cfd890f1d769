// A drill laid out against an inventory before anything runs: which host gets which
// action, when. `faultline plan` prints it; the run engine reuses the target resolver so
// that a group pick lands on the same hosts in the plan and in the run with the same id.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "orchestrator/drill.h"
#include "orchestrator/inventory.h"

namespace faultline {

struct PlanAction {
  // From the start of the fault phase; unset for reverts of faults without a duration,
  // which happen when the fault phase ends.
  std::optional<Millis> at;
  std::string host;  // inventory host; for role targets "role:<probe>"
  bool inject = true;
  bool at_run_time = false;  // role target: the host is known only when the fault starts
  std::string fault;
  std::string action;
  std::string what;  // the action's parameters, e.g. "process=namenode signal=KILL"
  SourceMark mark;
};

struct Plan {
  std::string drill;
  std::string drill_file;
  std::string inventory;
  std::string run_id;
  std::vector<std::string> steady_state;  // one line per check
  std::vector<std::string> expectations;  // one line per expectation
  std::vector<PlanAction> actions;        // ordered by time, injects before reverts
  std::vector<std::string> host_order;    // hosts that appear, in first-action order
};

// Picks `pick` of `candidates` deterministically from the run id and a salt (the group
// or role name): sorted, then a rotation chosen by a hash of run_id and salt, so one run
// id always gives the same hosts. kOne: 1, kMajority: n/2+1, kMinority: (n-1)/2, kAll: n.
std::vector<std::string> PickHosts(std::vector<std::string> candidates, TargetSpec::Pick pick,
                                   const std::string& run_id, const std::string& salt);

// The hosts a host or group target lands on; a group's hosts in `excluded` (its `except`,
// resolved by the caller) are left out before picking. kInvalid for a role target
// (resolved at run time from its probe) or for names missing from the inventory.
Status ResolveStaticTarget(const TargetSpec& target, const Inventory& inventory,
                           const std::string& run_id, std::vector<std::string>* hosts,
                           const std::vector<std::string>& excluded = {});

// REQUIRES: the drill parsed, and CheckDrillAgainstInventory passed.
Status BuildPlan(const Drill& drill, const Inventory& inventory, const std::string& run_id,
                 Plan* out);

// The timeline, then every host's actions in order; plain text for a terminal.
std::string FormatPlan(const Plan& plan);

// "hdfs.active ≠ ${target} within 30s of kill-active", shared with reports.
std::string DescribeExpectation(const Expectation& e);
std::string DescribePredicate(const ProbeSpec& probe, const Predicate& p);

}  // namespace faultline

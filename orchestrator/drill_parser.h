// Reading drills: YAML in, a Drill out, or an error that names file:line:col and says
// what was expected (unknown keys come with the nearest known key).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "orchestrator/drill.h"
#include "orchestrator/inventory.h"

namespace faultline {

// Parses one drill file. Checks everything that needs no inventory: keys, types,
// durations, percentages, actions and their parameters (FaultCatalogue), probes and their
// parameters (ProbeRegistry), references between faults and expectations.
// REQUIRES: RegisterEverything() has run. Errors are kInvalid, one per line in message().
Status ParseDrillFile(const std::string& path, Drill* out);
Status ParseDrillText(const std::string& text, const std::string& file_name, Drill* out);

// Resolves the drill's references against an inventory: hosts, groups, processes and
// services named by faults and probes exist (a missing one is named with the drill's
// file:line:col), and the quorum safety rule holds (a drill that can take down a majority
// of a group marked faultline_quorum must say expects_quorum_loss: true).
Status CheckDrillAgainstInventory(const Drill& drill, const Inventory& inventory);

}  // namespace faultline

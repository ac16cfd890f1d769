// "${host.<var>}" in a fault's parameters, replaced by the target host's inventory variable.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "base/status.h"
#include "orchestrator/inventory.h"

namespace faultline {

// Replaces every "${host.a.b}" inside the strings of `params` (recursively) with the host's
// variable a.b. A string that is exactly one reference takes the variable's JSON value
// (a list stays a list); inside longer text the value is spliced in as text. Other "${...}"
// references are left for the engine. kInvalid names the missing variable.
Status ExpandHostVars(nlohmann::json* params, const nlohmann::json& host_vars);

// Network faults name their peers as inventory groups, hosts or addresses; the agent takes
// IPv4 addresses and CIDRs only. Replaces params["peers"] (a string or a list), and the
// target host's entry of params["grudge"], with addresses: a group's hosts except the target
// itself, a host's ansible_host (a name is resolved here, on the controller), an address or
// CIDR as it is. kInvalid names an entry that is none of these.
Status ResolvePeers(nlohmann::json* params, const Inventory& inventory, const std::string& host);

}  // namespace faultline

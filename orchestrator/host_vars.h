// "${host.<var>}" in a fault's parameters, replaced by the target host's inventory variable.
#pragma once

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline {

// Replaces every "${host.a.b}" inside the strings of `params` (recursively) with the host's
// variable a.b. A string that is exactly one reference takes the variable's JSON value
// (a list stays a list); inside longer text the value is spliced in as text. Other "${...}"
// references are left for the engine. kInvalid names the missing variable.
Status ExpandHostVars(nlohmann::json* params, const nlohmann::json& host_vars);

}  // namespace faultline

// The Ansible inventory the lab writes of itself (YAML), so drills written for
// production run on the lab unchanged.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline::lab {

// `state` is the lab's state record (lab/lab.cc); writes `path` atomically.
Status WriteLabInventory(const nlohmann::json& state, const std::string& state_dir, const std::string& path);

}  // namespace faultline::lab

// The agent's requests: inject, revert, renew, list, cleanup, and the watchdog's revert.
// Every function here takes the state lock for its whole read-modify-write.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "faults/agent/state.h"
#include "faults/agent/sys.h"

namespace faultline::agent {

struct AgentContext {
  StateStore store;
  KernelFeatures features;
  std::string self_exe;  // re-executed for the watchdog and the delayer
};

// Handles one request line's JSON, returns the response (always with "id").
nlohmann::json HandleRequest(AgentContext& ctx, const nlohmann::json& request);

// Reverts one recorded fault (whatever of it exists). REQUIRES: the state lock.
Status RevertRecord(AgentContext& ctx, nlohmann::json& state, nlohmann::json& record,
                    std::string* detail);

// Reverts every fault of `run` ("" for all), removing what succeeded from the state and
// the chains once unused. REQUIRES: the state lock. Returns the first failure.
Status RevertAll(AgentContext& ctx, nlohmann::json& state, const std::string& run,
                 nlohmann::json* reverted);

// The watchdog of one run: exits when the run holds no faults, reverts them all when the
// lease runs out. Returns the process exit code.
int RunWatchdog(AgentContext& ctx, const std::string& run);

}  // namespace faultline::agent

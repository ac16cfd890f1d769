// faultline's own iptables chains and rules.
//
// Chains: filter FAULTLINE-INPUT (jumped to first from INPUT), filter FAULTLINE-OUTPUT
// (from OUTPUT), mangle FAULTLINE-POSTROUTING (from POSTROUTING, for the NFQUEUE
// delayer). Each chain starts with the lockout guards (ACCEPT for the controller's SSH
// connection), then the faults' rules, each with `-m comment --comment faultline:<run>:<fault>`.
// The chains exist only while some fault needs them: the last revert removes them, so
// iptables-save reads as it did before the drill.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "faults/agent/state.h"

namespace faultline::agent {

inline constexpr const char* kChainInput = "FAULTLINE-INPUT";
inline constexpr const char* kChainOutput = "FAULTLINE-OUTPUT";
inline constexpr const char* kChainPost = "FAULTLINE-POSTROUTING";

// A rule as data: {"table":"filter","chain":"FAULTLINE-INPUT","spec":["-s","10.0.0.2",...]}.
nlohmann::json MakeRule(const std::string& table, const std::string& chain,
                        std::vector<std::string> spec);

// Creates the chain (and the jump to it) if absent, recording it in the state file
// (saved) before the kernel sees it. `chain` is one of the three above.
Status EnsureChain(const StateStore& store, nlohmann::json& state, const std::string& chain);

// Appends each rule unless an identical one is there (iptables -C), so injecting twice
// adds nothing.
Status AddRules(const nlohmann::json& rules);
// Deletes each rule that is there; absent rules are fine.
Status DeleteRules(const nlohmann::json& rules);

// Removes faultline's chains (jump, flush, delete) when no fault in `state` has rules
// left; updates and saves the state. Idempotent.
Status DropUnusedChains(const StateStore& store, nlohmann::json& state);

// Adds a lockout guard (ACCEPT for one SSH connection) to the state and, if chains
// exist, at the top of each. A guard is {"addr","port","local_port"}.
Status AddGuard(const StateStore& store, nlohmann::json& state, const nlohmann::json& guard);

// Validates an IPv4/IPv6 address or CIDR so it can only ever be an address to iptables.
Status CheckAddress(const std::string& text);

}  // namespace faultline::agent

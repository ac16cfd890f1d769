// The line-delimited JSON protocol between the controller (AgentDriver) and
// faultline-agent. Shared by both sides so the field names exist in one place.
//
// One JSON object per line, UTF-8, '\n' terminated.
//
// The agent speaks first, once:
//   {"type":"hello","version":"0.1.0","protocol":1,"pid":123,"state_dir":"/run/faultline",
//    "features":{"netem":false,"iptables":"nft","nfqueue":true,"systemd":false},
//    "guard":{"addr":"10.0.0.1","port":51234,"local_port":22}}        (guard only under SSH)
//
// Then the controller sends requests, each with an id the response repeats:
//   {"id":1,"op":"inject","run":"r1","fault":"cut-leader","action":"network.partition",
//    "params":{...},"lease_ms":10000}
//   {"id":2,"op":"revert","run":"r1","fault":"cut-leader"}
//   {"id":3,"op":"renew","run":"r1","lease_ms":10000}
//   {"id":4,"op":"list"}                        every fault the state file holds
//   {"id":5,"op":"cleanup"}  or  {"op":"cleanup","run":"r1"}   revert what the state lists
//   {"id":6,"op":"guard","addr":"10.0.0.1","port":51234,"local_port":22}
// and the agent answers exactly once per request:
//   {"id":1,"ok":true,"detail":"...","notes":["..."],"faults":[...]}
//   {"id":1,"ok":false,"code":"invalid","error":"network.partition: 'peers' must be ..."}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline::agent_protocol {

inline constexpr int kProtocolVersion = 1;
inline constexpr const char* kAgentVersion = "0.1.0";

// Default lease: the controller renews about every second; ten missed renewals and the
// watchdog reverts everything of the run.
inline constexpr int kDefaultLeaseMs = 10000;

inline const char* CodeToWire(Status::Code code) { return Status::CodeName(code); }

inline Status::Code CodeFromWire(const std::string& name) {
  using C = Status::Code;
  for (C c : {C::kInvalid, C::kNotFound, C::kUnavailable, C::kTimeout, C::kCancelled,
              C::kInternal}) {
    if (name == Status::CodeName(c)) return c;
  }
  return C::kInternal;
}

// Turns a response line into a Status: ok, or the agent's error with its code.
inline Status StatusFromResponse(const nlohmann::json& response) {
  if (response.value("ok", false)) return Status::Ok();
  std::string msg = response.value("error", std::string("agent answered without ok"));
  switch (CodeFromWire(response.value("code", std::string("internal")))) {
    case Status::Code::kInvalid: return Status::Invalid(msg);
    case Status::Code::kNotFound: return Status::NotFound(msg);
    case Status::Code::kUnavailable: return Status::Unavailable(msg);
    case Status::Code::kTimeout: return Status::Timeout(msg);
    case Status::Code::kCancelled: return Status::Cancelled(msg);
    default: return Status::Internal(msg);
  }
}

inline nlohmann::json ErrorResponse(const nlohmann::json& id, const Status& status) {
  return {{"id", id}, {"ok", false}, {"code", CodeToWire(status.code())},
          {"error", status.message()}};
}

}  // namespace faultline::agent_protocol

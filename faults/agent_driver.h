// The controller's side of faultline-agent: one agent process per host per run, reached
// over the host's transport (Transport::Open), with the fault actions it performs
// registered in FaultCatalogue.
//
// Delivery: the agent runs from the inventory's faultline_agent_path when set; otherwise
// from ~/.cache/faultline/agent-<version>-<content id> on the host (the id a hash of the
// controller's agent binary, so any other build is "older"), uploaded there
// (Transport::Upload, SFTP over SSH) when it is missing or does not answer as this version;
// other builds in that directory are then removed. The local binary is found through
// FAULTLINE_AGENT_BINARY, else next to the faultline binary, else in the build tree.
//
// Leases: every inject carries a lease (faultline_agent_lease, default 10 s); KeepAlive
// renews it about every second. If the controller dies, the agent's watchdog reverts the
// run's faults when the lease runs out.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "faults/fault.h"
#include "faults/transport.h"

namespace faultline {

struct InventoryHost;

// Registers network.partition, network.delay, network.loss, network.rate, process.pause,
// process.resume, process.kill, service.stop, service.start and disk.fill.
void RegisterAgentFaults();

// Where the agent binary is on this (controller) machine; "" when none is found.
std::string LocalAgentBinary();

// A started agent on one host. Thread safety: Call may be used from several threads.
class AgentSession {
 public:
  // Finds or uploads the agent on the host and starts it; reads its hello.
  // `host_vars` are the host's inventory variables (faultline_agent_path,
  // faultline_agent_state_dir).
  static Status Start(Transport& transport, const nlohmann::json& host_vars,
                      std::unique_ptr<AgentSession>* out);
  ~AgentSession();

  // Sends one request (an "id" is added) and waits for its response. A response with
  // ok=false becomes the agent's error, annotated with the host.
  Status Call(nlohmann::json request, nlohmann::json* response,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));
  const nlohmann::json& hello() const { return hello_; }
  const std::string& host() const { return host_; }
  // False once the channel failed (the agent or the connection died).
  bool alive() const { return alive_; }

 private:
  AgentSession() = default;
  std::string host_;
  std::unique_ptr<Channel> channel_;
  nlohmann::json hello_;
  std::mutex mu_;
  long long next_id_ = 1;
  std::atomic<bool> alive_{true};
};

// The request parameters the agent needs for `fault`: the drill's parameters with the
// inventory's process and service definitions and the peer addresses filled in.
Status AgentParams(const FaultInstance& fault, nlohmann::json* params);

// `faultline status` and `faultline cleanup` on one host: what the agent's state file
// holds, and reverting all of it.
Status AgentListFaults(Transport& transport, const nlohmann::json& host_vars, nlohmann::json* faults);
// *reached tells an unreachable host (nothing known) from an agent that answered but
// could not revert everything (something is left on the host).
Status AgentCleanup(Transport& transport, const nlohmann::json& host_vars, nlohmann::json* reverted,
                    bool* reached = nullptr);

}  // namespace faultline

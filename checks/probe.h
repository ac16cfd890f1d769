// Probes: small objects that observe one thing about the cluster, each through the real
// system's own interface (four-letter words, znodes, commands, logs), so the same probe
// reads a production cluster and the lab.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "orchestrator/drill.h"
#include "orchestrator/inventory.h"

namespace faultline {

class Transport;

struct Observation {
  // null: the thing is absent (no active NameNode); otherwise a string, number, bool,
  // or array/object for structured probes.
  nlohmann::json value;
  bool unreachable = false;  // could not observe at all; `error` says why
  std::string error;
  // For role probes: each host's role as seen by this sample ({"zk1": "leader", ...}).
  std::map<std::string, std::string> roles;

  static Observation Value(nlohmann::json v) { Observation o; o.value = std::move(v); return o; }
  static Observation Unreachable(std::string why) {
    Observation o; o.unreachable = true; o.error = std::move(why); return o;
  }
};

// What a probe may use while sampling.
class ProbeContext {
 public:
  virtual ~ProbeContext() = default;
  virtual const Inventory& inventory() const = 0;
  // The transport to a host, or nullptr if the host is not in the inventory.
  virtual Transport* TransportFor(const std::string& host) = 0;
  // Milliseconds since the run started (for log-window probes).
  virtual double NowMs() const = 0;
  // Wall-clock time of t = 0, seconds since the epoch (for log-window probes).
  virtual double StartedAtEpoch() const = 0;
  // When the drill's fault `fault` was injected, in ms since t = 0; nullopt while it has
  // not been (log probes count lines "since the anchor fault started").
  virtual std::optional<double> FaultStartedMs(const std::string& fault) const {
    (void)fault;
    return std::nullopt;
  }
  // The hosts fault `fault` was resolved to; nullopt until it has been (probe parameters such
  // as host: "${target}" are resolved with them).
  virtual std::optional<std::vector<std::string>> FaultHosts(const std::string& fault) const {
    (void)fault;
    return std::nullopt;
  }
};

// Thread safety: the sampler calls one Probe from one thread at a time; different
// probes run concurrently. Sample never throws and never blocks longer than `timeout`.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual Observation Sample(ProbeContext& ctx, std::chrono::milliseconds timeout) = 0;
};

struct ProbeParam {
  std::string name;
  bool required = false;
  std::string help;
  std::string refers_to;  // "host", "group", "process", "service" or ""
};

struct ProbeInfo {
  std::string name;     // "zk.leader"
  std::string summary;  // one line
  std::vector<ProbeParam> params;
  // A role probe yields host names (a string or a list of strings); drills may target
  // {role: <name>} with it.
  bool yields_hosts = false;
};

using ProbeMaker = std::function<Status(const ProbeSpec& spec, const Inventory& inventory,
                                        std::unique_ptr<Probe>* out)>;

class ProbeRegistry {
 public:
  static ProbeRegistry& Global();
  void Register(ProbeInfo info, ProbeMaker make);
  const ProbeInfo* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
  // kInvalid with spec.mark in the message for an unknown probe or bad parameters.
  Status Make(const ProbeSpec& spec, const Inventory& inventory, std::unique_ptr<Probe>* out) const;

 private:
  struct Entry {
    ProbeInfo info;
    ProbeMaker make;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace faultline

// Fault kinds as plain data plus the drivers that apply and revert them.
//
// The catalogue tells the drill parser which actions exist and which parameters each
// takes; the engine asks it for a driver and hands the driver resolved instances.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/duration.h"
#include "base/status.h"
#include "faults/transport.h"

namespace faultline {

struct Inventory;

// One parameter an action accepts, for validation and for `faultline plan`.
struct FaultParam {
  enum class Kind { kString, kDuration, kPercent, kBytes, kInt, kBool, kStringList, kCommand, kAny };
  std::string name;
  Kind kind = Kind::kString;
  bool required = false;
  std::string help;
  // Names an inventory entry the value must resolve to: "process" (faultline_processes),
  // "service" (faultline_services), "host", "group", or "" for none.
  std::string refers_to;
};

struct FaultActionInfo {
  std::string name;     // "network.partition"
  std::string summary;  // one line for --help and plan
  std::vector<FaultParam> params;
  // True if applying it to a host takes that host out of its quorum group (service stop,
  // kill, pause, partition, disk fill): the safety check counts such hosts.
  bool removes_host = false;
};

// A fault resolved to one host, ready to apply.
struct FaultInstance {
  std::string run_id;
  std::string fault;   // the drill's fault name
  std::string action;
  std::string host;    // inventory host name
  nlohmann::json params = nlohmann::json::object();  // as written, plus what the engine
                                                     // resolved (e.g. "peers": addresses)
  nlohmann::json host_vars = nlohmann::json::object();  // the host's merged inventory vars
  std::optional<Millis> duration;
  // The tag every artefact carries: "faultline:<run>:<fault>".
  std::string Tag() const { return "faultline:" + run_id + ":" + fault; }
};

struct InjectOutcome {
  std::string detail;  // what was actually done, for the journal
  std::vector<std::string> notes;  // e.g. "sch_netem missing: NFQUEUE delayer used"
};

// Thread safety: Inject and Revert may be called concurrently for different hosts.
class FaultDriver {
 public:
  virtual ~FaultDriver() = default;
  // Idempotent: applying what is already applied is a no-op.
  virtual Status Inject(const FaultInstance& fault, Transport& transport, InjectOutcome* out) = 0;
  // Idempotent: reverting what is not there succeeds.
  virtual Status Revert(const FaultInstance& fault, Transport& transport, std::string* detail) = 0;
  // Called every ~second while faults are held, so drivers with leases can renew them.
  virtual void KeepAlive() {}
};

class FaultCatalogue {
 public:
  static FaultCatalogue& Global();
  void Register(FaultActionInfo info, std::function<std::unique_ptr<FaultDriver>()> make_driver);
  const FaultActionInfo* Find(const std::string& action) const;
  std::vector<std::string> Names() const;
  // A new driver for the action; nullptr if unknown. One driver serves a whole run.
  std::unique_ptr<FaultDriver> MakeDriver(const std::string& action) const;

 private:
  struct Entry {
    FaultActionInfo info;
    std::function<std::unique_ptr<FaultDriver>()> make;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace faultline

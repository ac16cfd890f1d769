// A drill, as data: what must hold before, what is done, what must be seen.
//
// The parser (drill_parser.h) fills these from YAML and keeps a SourceMark on every
// element so that a problem found at run time still names file:line:col.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/duration.h"
#include "base/source_mark.h"

namespace faultline {

// Which probe to sample and with what parameters (everything in the probe's entry that
// is not the predicate or timing, e.g. {host: nn1} or {path: /var/log/x, pattern: ...}).
struct ProbeSpec {
  std::string name;                                  // "hdfs.active", "command", ...
  nlohmann::json params = nlohmann::json::object();
  SourceMark mark;
  // A stable key for journals: name plus params, e.g. "tcp{host=zk1,port=2181}".
  std::string Key() const;
};

// What an observed value is compared with. Operands may hold "${...}" references,
// resolved at run time: ${target} (the hosts the drill's only fault, or the fault named
// by `after`/`during`, resolved to), ${faults.<name>.target}, ${before} (the probe's value
// just before the anchor fault started).
struct Predicate {
  enum class Op { kEquals, kNotEquals, kPresent, kAbsent, kAtMost, kAtLeast, kChanged };
  Op op = Op::kEquals;
  nlohmann::json operand;  // unused for kPresent/kAbsent/kChanged
  SourceMark mark;
};

struct SteadyCheck {
  ProbeSpec probe;
  Predicate predicate;
};

// Where a fault lands. kRole is resolved at inject time from what the probes see.
struct TargetSpec {
  enum class Kind { kHost, kGroup, kRole };
  enum class Pick { kAll, kOne, kMajority, kMinority };
  Kind kind = Kind::kHost;
  std::vector<std::string> names;  // host names (kHost), one group (kGroup) or one role probe (kRole)
  Pick pick = Pick::kAll;          // for kGroup and kRole: which of the matching hosts
  // For kGroup and kRole: hosts left out before picking, each a host name or
  // "${faults.<name>.target}" (the hosts an earlier fault landed on).
  std::vector<std::string> except;
  SourceMark mark, except_mark;
};

// The fault named by a whole "${faults.<name>.target}", or "" when `s` is not one.
inline std::string FaultTargetRef(const std::string& s) {
  const std::string open = "${faults.", close = ".target}";
  if (s.size() <= open.size() + close.size() || s.compare(0, open.size(), open) != 0 ||
      s.compare(s.size() - close.size(), close.size(), close) != 0) {
    return "";
  }
  return s.substr(open.size(), s.size() - open.size() - close.size());
}

struct FaultStep {
  std::string name;
  std::string action;              // "process.kill", "network.delay", "command", ...
  TargetSpec target;
  Millis offset{0};                // from the start of the fault phase
  std::optional<Millis> duration;  // unset: until the end of the fault phase (revert at end)
  nlohmann::json params = nlohmann::json::object();  // action parameters, as written
  SourceMark mark;
};

// One row of the report.
struct Expectation {
  enum class Mode {
    kWithin,  // becomes true at some sample no later than anchor + span
    kAlways,  // true at every sample of the window
    kNever,   // false at every sample of the window
    kFor,     // true at every sample for a continuous span inside the window
  };
  enum class Window {
    kDrill,        // from the first injection to the end of recovery
    kDuringFault,  // from the anchor fault's injection to its revert
    kAfterRevert,  // from the anchor fault's revert to the end of recovery
  };
  std::string id;  // `name` if given, else "expect[i]"
  ProbeSpec probe;
  Predicate predicate;
  Mode mode = Mode::kWithin;
  Millis span{0};        // within: deadline after the window opens; for: the steady span
  Window window = Window::kDrill;
  std::string anchor;    // fault name the window refers to; "" = the first fault
  SourceMark mark;
};

struct Drill {
  std::string file;
  std::string name;
  std::string title;
  std::string description;
  std::vector<SteadyCheck> steady_state;
  std::vector<FaultStep> faults;
  std::vector<Expectation> expect;
  Millis recover_within{Millis(120000)};  // steady state again after the last revert
  Millis preflight_within{Millis(30000)}; // how long steady state may take to hold at start
  Millis sample_every{Millis(100)};       // probe sampling period (50ms..10s)
  bool expects_quorum_loss = false;       // allows faults that take a quorum group's majority
  SourceMark mark;
};

}  // namespace faultline

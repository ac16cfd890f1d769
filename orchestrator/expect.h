// Judging expectations over a sampled timeline. Pure functions: samples and the times
// of the faults in, a verdict out. The engine calls them while the drill runs (to stop
// early when something has definitely failed) and once at the end.
//
// The three-valued rule: a sample is true, false or unknown (the probe was unreachable,
// or the predicate cannot be judged, e.g. `changed` with no value before the fault). A
// verdict is pass or fail only if it would be the same whatever the unknown samples had
// really been; otherwise it is unknown. So an unreachable sample never counts as a pass,
// and `always` over a window with unreachable samples is unknown unless a real sample
// already broke it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "orchestrator/drill.h"
#include "orchestrator/journal.h"

namespace faultline {

// One observation of one probe, in ms since the run's start.
struct TimedValue {
  double t_ms = 0;
  nlohmann::json value;
  bool unreachable = false;
  std::string error;
};

// When a fault was injected and reverted, and where it landed.
struct FaultTimes {
  std::vector<std::string> hosts;
  std::optional<double> inject_ms;
  std::optional<double> revert_ms;
};

struct EvalContext {
  std::map<std::string, FaultTimes> faults;  // by the drill's fault name
  std::string first_fault;                   // the anchor when an expectation names none
  // End of recovery: the end of the `drill` and `after revert` windows. Unset while the
  // drill is still running (those windows are still open).
  std::optional<double> drill_end_ms;
  // Samples are complete up to this time: a deadline later than this is not yet reached.
  double observed_until_ms = 0;
};

struct Evaluation {
  JournalVerdict verdict;
  // True when no later sample can change the verdict (a broken invariant, a deadline
  // passed); false for a provisional verdict while the drill runs.
  bool final = false;
};

// Judges one expectation. `samples` are the expectation's probe's samples in time
// order (the whole run; the function picks the window). Never throws: a failure inside
// the checker yields unknown with the reason.
Evaluation EvaluateExpectation(const Expectation& expectation, const std::vector<TimedValue>& samples,
                               const EvalContext& context);

// What ${target}, ${faults.X.target} and ${before} stand for.
struct Substitutions {
  std::map<std::string, nlohmann::json> values;  // "target", "faults.kill.target", "before"
};

// Replaces ${...} references inside `operand` (recursively). A string that is exactly one
// reference takes the referenced value (a host, a list of hosts, a number); a reference
// inside a longer string is spliced in as text (lists joined by commas). An unknown or
// not yet known reference is kInvalid naming it.
Status ResolveOperand(const nlohmann::json& operand, const Substitutions& subs, nlohmann::json* out);

// Whether `value` satisfies the predicate with its operand already resolved; nullopt when
// it cannot be judged (`changed` without a value before).
std::optional<bool> PredicateHolds(const Predicate& predicate, const nlohmann::json& operand,
                                   const nlohmann::json& value, const std::optional<nlohmann::json>& before);

// "= nn2", "≠ nn1", "∉ {nn1, nn2}", "present", "≤ 1", "changed from nn1".
std::string DescribePredicate(const Predicate& predicate, const nlohmann::json& operand,
                              const std::optional<nlohmann::json>& before);

// A value as the report shows it: strings bare, null as "nothing", lists as "[a, b]".
std::string FormatValue(const nlohmann::json& value);

// "+4.2s": ms relative to a window's start.
std::string FormatOffset(double ms);

}  // namespace faultline

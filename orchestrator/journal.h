// The record of one drill's run: everything the reports are made from.
//
// The engine (run.h) fills it while the drill runs; the report writers (report/) only
// read it. Times are milliseconds since the run's monotonic start (t = 0 when preflight
// began), so two runs line up; `started_at` is the wall-clock time of t = 0.
// docs/journal.md documents the JSON form; ToJson/FromJson must stay in step with it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/source_mark.h"
#include "base/status.h"

namespace faultline {

struct JournalPhase {
  std::string name;  // preflight, faults, recovery, revert, report
  double start_ms = 0;
  double end_ms = 0;
};

struct JournalSample {
  std::string probe;  // ProbeSpec::Key()
  double t_ms = 0;
  nlohmann::json value;      // null when the probe saw nothing (absent)
  bool unreachable = false;  // the probe could not observe; `error` says why
  std::string error;
};

// A host's role over time, for the HTML lanes: one entry each time it changes.
struct JournalRole {
  std::string host;
  double t_ms = 0;
  std::string role;  // "leader", "follower", "active", "standby", "down", "unreachable", ...
};

struct JournalAction {
  double t_ms = 0;
  double took_ms = 0;
  std::string host;
  std::string fault;   // the drill's fault name
  std::string kind;    // resolve | inject | revert | cleanup
  std::string detail;  // what was done, e.g. "tc netem delay 200ms loss 20% on eth0 (nfqueue fallback)"
  bool ok = true;
  std::string error;
};

struct JournalFaultWindow {
  std::string fault;
  std::string action;
  std::vector<std::string> hosts;  // as resolved
  double inject_ms = 0;
  std::optional<double> revert_ms;  // unset: never reverted (the report says so loudly)
  bool reverted = false;
};

struct JournalVerdict {
  enum class Result { kPass, kFail, kUnknown };
  std::string id;
  std::string expected;  // "hdfs.active ≠ nn1 within 30s of kill-active"
  std::string observed;  // "nn2 at +4.2s"
  Result result = Result::kUnknown;
  std::optional<double> observed_ms;   // when the deciding observation was made
  std::optional<double> window_start_ms;
  std::optional<double> deadline_ms;
  std::optional<double> recovery_ms;   // for `within`: observed_ms - window_start_ms
  std::string message;                 // the JUnit failure text
  SourceMark mark;
};

struct Journal {
  std::string run_id;
  std::string drill;  // Drill::name
  std::string title;
  std::string drill_file;
  std::string inventory;  // name
  std::string started_at; // ISO 8601, UTC
  double duration_ms = 0;
  int exit_code = 0;      // as documented in DESIGN.md
  std::vector<std::string> hosts;  // lanes, in inventory order
  std::vector<JournalPhase> phases;
  std::vector<JournalFaultWindow> faults;
  std::vector<JournalAction> actions;
  std::vector<JournalSample> samples;
  std::vector<JournalRole> roles;
  std::vector<JournalVerdict> verdicts;
  std::vector<std::string> leftovers;  // faults a revert could not remove: "zk1: iptables rule ..."
  std::vector<std::string> notes;      // e.g. "netem missing on zk2: NFQUEUE delayer used"
  nlohmann::json attachments = nlohmann::json::object();  // name -> relative path (pcap, logs)
};

// The "schema" number ToJson writes; FromJson reads this version and older ones.
inline constexpr int kJournalSchema = 1;

nlohmann::json ToJson(const Journal& journal);
// Errors are kInvalid and name the JSON path: "verdicts[2].result: expected ...".
Status FromJson(const nlohmann::json& json, Journal* out);
const char* ResultName(JournalVerdict::Result r);  // "pass", "fail", "unknown"

}  // namespace faultline

// The `faultline` subcommands. main.cc parses the command line (CLI11) into these option
// structs and calls one function; each function returns the process exit code:
//   0 every expectation met        1 an expectation not met
//   2 bad drill, inventory or arguments
//   3 infrastructure (unreachable host, failed injection; what was injected is reverted)
//   4 a revert failed and something may be left on a host
#pragma once

#include <string>
#include <vector>

namespace faultline {

enum ExitCode { kExitOk = 0, kExitExpectation = 1, kExitInvalid = 2, kExitInfra = 3, kExitLeftover = 4 };

struct ValidateOptions {
  std::vector<std::string> drills;
  std::string inventory;  // optional: also resolve hosts, groups, processes, services
};
int CmdValidate(const ValidateOptions& options);

struct PlanOptions {
  std::string drill;
  std::string inventory;
  std::string run_id;  // group picks depend on it; default "plan"
};
int CmdPlan(const PlanOptions& options);

struct RunOptions {
  std::vector<std::string> drills;
  std::string inventory;
  std::string report_dir;  // JSON journal + HTML (+ JUnit if junit_file empty)
  std::string junit_file;
  std::string confirm;     // must equal the inventory's name when it is marked production
  std::string run_id;      // default: generated
  bool accept_new_host_keys = false;
  int sample_ms = 0;       // 0: the drill's own
};
int CmdRun(const RunOptions& options);

struct StatusOptions {
  std::string inventory;
  bool json = false;
};
int CmdStatus(const StatusOptions& options);

struct CleanupOptions {
  std::string inventory;
  bool accept_new_host_keys = false;
};
int CmdCleanup(const CleanupOptions& options);

struct DiffOptions {
  std::string old_journal;
  std::string new_journal;
  double regression_factor = 1.5;  // flagged when new > old × factor (and > old + 1 s)
};
int CmdDiff(const DiffOptions& options);

struct LabOptions {
  std::string verb;       // up | down | status
  std::string topology;   // optional topology file
  std::string coord = "quorumd";  // quorumd | zookeeper
  int zk_count = 3;
  std::string state_dir = "/run/faultline-lab";
};
int CmdLab(const LabOptions& options);

struct DemoOptions {
  std::string coord = "quorumd";
  std::string report_dir = "reports/demo";
  int zk_count = 3;                 // coordination servers in the demo's lab
  std::vector<std::string> drills;  // default: drills/F1..F6
};
int CmdDemo(const DemoOptions& options);

}  // namespace faultline

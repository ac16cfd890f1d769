// `faultline run DRILL... -i INVENTORY [--report DIR] [--junit FILE]`
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/commands.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/inventory.h"
#include "orchestrator/progress.h"
#include "orchestrator/report/report.h"
#include "orchestrator/run.h"

namespace faultline {

int CmdRun(const RunOptions& options) {
  if (options.sample_ms != 0 && (options.sample_ms < 50 || options.sample_ms > 10000)) {
    std::fprintf(stderr, "faultline run: --sample-ms is %d; expected 50 to 10000 milliseconds\n", options.sample_ms);
    return kExitInvalid;
  }
  Inventory inventory;
  Status st = LoadInventory(options.inventory, &inventory);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return kExitInvalid;
  }
  if (inventory.production() && options.confirm != inventory.name()) {
    std::fprintf(stderr,
                 "faultline run: inventory '%s' is marked production (faultline_production); nothing was run.\n"
                 "Run again with --confirm %s once the change window is open.\n",
                 inventory.name().c_str(), inventory.name().c_str());
    return kExitInvalid;
  }
  // Every drill is read and checked before the first one touches anything, so a typo in
  // the third drill does not surface after the first two have already run.
  std::vector<Drill> drills(options.drills.size());
  bool bad = false;
  for (size_t i = 0; i < options.drills.size(); ++i) {
    st = ParseDrillFile(options.drills[i], &drills[i]);
    if (st.ok()) st = CheckDrillAgainstInventory(drills[i], inventory);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      bad = true;
    }
  }
  if (bad) return kExitInvalid;

  auto progress = Progress::ForStderr();
  RunSettings settings;
  settings.run_id = options.run_id.empty() ? NewRunId() : options.run_id;
  settings.confirm = options.confirm;
  settings.transport.accept_new_host_keys = options.accept_new_host_keys;
  settings.sample_every = std::chrono::milliseconds(options.sample_ms);
  settings.interrupt = InstallInterruptHandlers();
  settings.progress = progress.get();
  settings.report_dir = options.report_dir;

  std::vector<Journal> journals;
  int code = kExitOk;
  for (size_t i = 0; i < drills.size(); ++i) {
    if (settings.interrupt->load() != 0) {
      progress->Event("not running " + options.drills[i] + " and the drills after it: interrupted");
      break;
    }
    progress->Drill(drills[i].name);
    Journal journal;
    st = RunDrill(drills[i], inventory, settings, &journal);
    if (!st.ok()) progress->Event(st.message());
    progress->Event("exit " + std::to_string(journal.exit_code));
    code = std::max(code, journal.exit_code);
    journals.push_back(std::move(journal));
    if (journals.back().exit_code == kExitLeftover) {
      progress->Event("not running further drills: a revert failed and something may be left on a host");
      break;
    }
  }
  progress->Drill("");
  progress->Done();

  if (!options.report_dir.empty() || !options.junit_file.empty()) {
    ReportPaths paths;
    st = WriteReports(journals, ReportOptions{options.report_dir, options.junit_file}, &paths);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline run: writing reports: %s\n", st.message().c_str());
      code = std::max(code, static_cast<int>(kExitInfra));
    } else {
      if (!paths.html.empty()) progress->Event("report: " + paths.html);
      if (!paths.junit.empty()) progress->Event("junit: " + paths.junit);
    }
  }
  std::fputs(VerdictTable(journals).c_str(), stdout);
  std::fflush(stdout);
  for (const auto& j : journals) {
    for (const auto& left : j.leftovers) std::fprintf(stderr, "LEFT BEHIND (%s): %s\n", j.drill.c_str(), left.c_str());
  }
  return code;
}

}  // namespace faultline

// `faultline diff`: this quarter's recovery times against last quarter's.
//
// Expectations are matched by drill name and expectation id. For each, the observed recovery
// time (JournalVerdict::recovery_ms) then and now; a regression is a recovery that became
// slower than old × factor and also more than one second slower (so that 0.2 s → 0.5 s is not
// an alarm), or a verdict that went from pass to fail. The "faults reverted" check of each
// drill is compared like an expectation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "orchestrator/journal.h"

namespace faultline {

struct JournalFile {
  std::string path;
  Journal journal;
};

// Reads one journal file, or every *.json file below a directory (recursively, in path
// order). Errors are kInvalid and name the file, with line:column for malformed JSON.
// A drill that appears in two files of one set is an error naming both.
Status LoadJournals(const std::string& path, std::vector<JournalFile>* out);

// Reads one journal file; errors name the file (file:line:col for malformed JSON).
Status LoadJournalFile(const std::string& path, Journal* out);

struct DiffRow {
  std::string drill;
  std::string id;
  bool in_old = false;
  bool in_new = false;
  std::optional<double> old_ms;  // recovery time, when the journal had one
  std::optional<double> new_ms;
  std::optional<JournalVerdict::Result> old_result;
  std::optional<JournalVerdict::Result> new_result;
  bool slower = false;          // new > old × factor and new > old + 1 s
  bool verdict_worse = false;   // pass then, fail now
  bool verdict_changed = false; // any other change of verdict
  bool regression() const { return slower || verdict_worse; }
};

struct DiffResult {
  std::vector<DiffRow> rows;  // in the new set's order, then what only the old set had
  int regressions = 0;
};

// REQUIRES: factor >= 1.
DiffResult DiffJournals(const std::vector<Journal>& old_set, const std::vector<Journal>& new_set,
                        double factor);

// The table `faultline diff` prints, ending with a one-line summary.
std::string FormatDiff(const DiffResult& diff, double factor);

}  // namespace faultline

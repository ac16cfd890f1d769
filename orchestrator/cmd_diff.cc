#include <cmath>
#include <cstdio>

#include "orchestrator/commands.h"
#include "orchestrator/report/diff.h"

namespace faultline {

int CmdDiff(const DiffOptions& options) {
  if (!std::isfinite(options.regression_factor) || options.regression_factor < 1.0) {
    std::fprintf(stderr, "faultline diff: --factor must be a number of at least 1, got %g\n",
                 options.regression_factor);
    return kExitInvalid;
  }
  std::vector<JournalFile> old_files, new_files;
  for (auto [path, files] : {std::pair{&options.old_journal, &old_files},
                             std::pair{&options.new_journal, &new_files}}) {
    Status st = LoadJournals(*path, files);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline diff: %s\n", st.message().c_str());
      return kExitInvalid;
    }
  }
  std::vector<Journal> old_set, new_set;
  for (auto& f : old_files) old_set.push_back(std::move(f.journal));
  for (auto& f : new_files) new_set.push_back(std::move(f.journal));

  DiffResult diff = DiffJournals(old_set, new_set, options.regression_factor);
  std::fputs(FormatDiff(diff, options.regression_factor).c_str(), stdout);
  std::fflush(stdout);
  return diff.regressions > 0 ? kExitExpectation : kExitOk;
}

}  // namespace faultline

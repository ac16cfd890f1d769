// Writing the reports of a run from its journals: one JSON journal per drill, JUnit XML
// (a test suite per drill, a test case per expectation), and one self-contained HTML page.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "orchestrator/journal.h"

namespace faultline {

struct ReportOptions {
  std::string dir;         // created if missing; "" writes nothing but junit_file
  std::string junit_file;  // "" means <dir>/junit.xml
};

struct ReportPaths {
  std::vector<std::string> journals;  // <dir>/<drill>.json
  std::string junit;
  std::string html;                   // <dir>/report.html
};

Status WriteReports(const std::vector<Journal>& journals, const ReportOptions& options,
                    ReportPaths* paths);

// The verdict table as plain text, for the console at the end of a run.
std::string VerdictTable(const std::vector<Journal>& journals);

}  // namespace faultline

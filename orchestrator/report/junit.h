// JUnit XML for Jenkins' junit step: a <testsuite> per drill, a <testcase> per expectation
// (classname = drill, name = expectation id). A failed expectation is a <failure> whose
// message says expected against observed; an unknown verdict (the probe could not tell) is an
// <error>; every suite also has a "faults reverted" case that fails when a fault was left on a
// host. tests/report/junit.xsd is the schema this output is checked against.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/journal.h"

namespace faultline {

// The name of the test case that stands for "everything injected was reverted".
inline constexpr const char* kRevertedCaseName = "faults reverted";

std::string JUnitXml(const std::vector<Journal>& journals);

}  // namespace faultline

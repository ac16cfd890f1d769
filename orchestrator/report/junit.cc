#include "orchestrator/report/junit.h"

#include <cstdio>
#include <regex>

#include "orchestrator/report/format.h"

namespace faultline {

using namespace report;  // the shared text helpers of format.h

namespace {

std::string Seconds(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms > 0 ? ms / 1000.0 : 0.0);
  return buf;
}

std::string Attr(const char* name, std::string_view value) {
  return std::string(" ") + name + "=\"" + XmlEscape(value) + "\"";
}

struct Counts {
  int tests = 0;
  int failures = 0;
  int errors = 0;
};

// What a reader of the Jenkins test page wants under a case: expected, observed, the window and
// where the expectation was written.
std::string VerdictDetail(const JournalVerdict& v) {
  std::string out;
  out += "expected: " + v.expected + "\n";
  out += "observed: " + v.observed + "\n";
  if (v.observed_ms) out += "observed at: " + FormatOffset(*v.observed_ms) + "\n";
  if (v.window_start_ms) out += "window opened: " + FormatOffset(*v.window_start_ms) + "\n";
  if (v.deadline_ms) out += "deadline: " + FormatOffset(*v.deadline_ms) + "\n";
  if (v.recovery_ms) out += "recovery: " + FormatSpan(*v.recovery_ms) + "\n";
  if (!v.mark.ToString().empty()) out += "written at: " + v.mark.ToString() + "\n";
  return out;
}

std::string ActionLine(const JournalAction& a) {
  std::string line = FormatOffset(a.t_ms) + "  " + a.kind + "  " +
                     (a.host.empty() ? "-" : a.host) + "  " + (a.fault.empty() ? "-" : a.fault) +
                     "  " + a.detail + "  (" + FormatSpan(a.took_ms) + ")";
  line += a.ok ? "  ok" : "  FAILED: " + a.error;
  return line;
}

std::string Suite(const Journal& j, Counts* counts) {
  std::string cases;
  Counts c;
  for (const auto& v : j.verdicts) {
    ++c.tests;
    std::string tc = "    <testcase" + Attr("classname", j.drill) + Attr("name", v.id) +
                     Attr("time", Seconds(v.recovery_ms.value_or(0))) + ">\n";
    std::string detail = VerdictDetail(v);
    if (v.result == JournalVerdict::Result::kFail) {
      ++c.failures;
      tc += "      <failure" + Attr("message", VerdictMessage(v)) + Attr("type", "expectation") +
            ">" + XmlEscapeText(detail) + "</failure>\n";
    } else if (v.result == JournalVerdict::Result::kUnknown) {
      ++c.errors;
      tc += "      <error" + Attr("message", "could not tell: " + VerdictMessage(v)) +
            Attr("type", "unknown") + ">" + XmlEscapeText(detail) + "</error>\n";
    } else {
      tc += "      <system-out>" + XmlEscapeText(detail) + "</system-out>\n";
    }
    tc += "    </testcase>\n";
    cases += tc;
  }

  // Always present, so Jenkins' history of this case is unbroken from quarter to quarter.
  ++c.tests;
  cases += "    <testcase" + Attr("classname", j.drill) + Attr("name", kRevertedCaseName) +
           Attr("time", "0.000") + ">\n";
  if (!AllReverted(j)) {
    ++c.failures;
    std::string body;
    for (const auto& f : j.faults) {
      if (f.reverted) continue;
      std::string hosts;
      for (const auto& h : f.hosts) hosts += (hosts.empty() ? "" : ",") + h;
      body += "not reverted: " + f.fault + " (" + f.action + ") on " +
              (hosts.empty() ? "?" : hosts) + ", injected at " + FormatOffset(f.inject_ms) + "\n";
    }
    for (const auto& l : j.leftovers) body += "left behind: " + l + "\n";
    std::string message = j.leftovers.empty()
                              ? "a fault was not reverted"
                              : "left behind on a host: " + j.leftovers.front();
    if (j.leftovers.size() > 1) {
      message += " (and " + std::to_string(j.leftovers.size() - 1) + " more)";
    }
    cases += "      <failure" + Attr("message", message) + Attr("type", "leftover") + ">" +
             XmlEscapeText(body) + "</failure>\n";
  }
  cases += "    </testcase>\n";

  // Exit 2 and 3 mean the drill did not run as written: say so as an error of its own, as the
  // verdicts alone may all look fine (or be missing).
  if (j.exit_code == 2 || j.exit_code == 3) {
    ++c.tests;
    ++c.errors;
    std::string why = j.exit_code == 2 ? "bad drill, inventory or arguments"
                                       : "infrastructure: a host unreachable or an injection failed";
    std::string body;
    for (const auto& n : j.notes) body += n + "\n";
    for (const auto& a : j.actions) {
      if (!a.ok) body += ActionLine(a) + "\n";
    }
    cases += "    <testcase" + Attr("classname", j.drill) + Attr("name", "run completed") +
             Attr("time", "0.000") + ">\n      <error" +
             Attr("message", "faultline exited " + std::to_string(j.exit_code) + " (" + why + ")") +
             Attr("type", "infrastructure") + ">" + XmlEscapeText(body) +
             "</error>\n    </testcase>\n";
  }

  std::string out = "  <testsuite" + Attr("name", j.drill) + Attr("id", j.run_id) +
                    Attr("package", "faultline") + Attr("tests", std::to_string(c.tests)) +
                    Attr("failures", std::to_string(c.failures)) +
                    Attr("errors", std::to_string(c.errors)) + Attr("skipped", "0") +
                    Attr("time", Seconds(j.duration_ms));
  // Jenkins reads `timestamp` as an ISO 8601 date-time; anything else is kept as a property only.
  static const std::regex kDateTime(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)");
  if (std::regex_match(j.started_at, kDateTime)) out += Attr("timestamp", j.started_at);
  out += ">\n    <properties>\n";
  auto property = [&out](const char* name, const std::string& value) {
    out += "      <property" + Attr("name", name) + Attr("value", value) + "/>\n";
  };
  property("run_id", j.run_id);
  property("title", j.title);
  property("drill_file", j.drill_file);
  property("inventory", j.inventory);
  property("started_at", j.started_at);
  property("exit_code", std::to_string(j.exit_code));
  std::string hosts;
  for (const auto& h : j.hosts) hosts += (hosts.empty() ? "" : ",") + h;
  property("hosts", hosts);
  out += "    </properties>\n";
  out += cases;

  std::string actions;
  for (const auto& a : j.actions) actions += ActionLine(a) + "\n";
  out += "    <system-out>" + XmlEscapeText(actions) + "</system-out>\n";
  std::string notes;
  for (const auto& n : j.notes) notes += "note: " + n + "\n";
  for (const auto& l : j.leftovers) notes += "LEFT BEHIND: " + l + "\n";
  if (!notes.empty()) out += "    <system-err>" + XmlEscapeText(notes) + "</system-err>\n";
  out += "  </testsuite>\n";

  counts->tests += c.tests;
  counts->failures += c.failures;
  counts->errors += c.errors;
  return out;
}

}  // namespace

std::string JUnitXml(const std::vector<Journal>& journals) {
  Counts total;
  std::string suites;
  double time_ms = 0;
  for (const auto& j : journals) {
    suites += Suite(j, &total);
    time_ms += j.duration_ms;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites" + Attr("name", "faultline") + Attr("tests", std::to_string(total.tests)) +
         Attr("failures", std::to_string(total.failures)) +
         Attr("errors", std::to_string(total.errors)) + Attr("time", Seconds(time_ms)) + ">\n";
  out += suites;
  out += "</testsuites>\n";
  return out;
}

}  // namespace faultline

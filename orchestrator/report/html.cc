#include "orchestrator/report/html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "base/duration.h"
#include "orchestrator/report/format.h"
#include "orchestrator/report/junit.h"

namespace faultline {

using namespace report;  // the shared text helpers of format.h

namespace {

namespace tc = timeline_colour;
namespace tg = timeline_geometry;

std::string E(std::string_view s) { return XmlEscape(s); }

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Shortens a label to fit the label column; the full text goes into a tooltip.
std::string Clip(const std::string& s, size_t max_columns) {
  if (DisplayWidth(s) <= max_columns) return s;
  std::string out;
  size_t columns = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++columns > max_columns - 1) break;
    out += s[i];
  }
  return out + "…";
}

// A relative path made safe to put in href: everything outside the unreserved characters and
// '/' is percent-encoded, so "javascript:..." or "x?y#z" stay file names, never a scheme,
// query or fragment.
std::string HrefFor(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  // "//host/x" would name another host; keep it a path.
  if (out.rfind("//", 0) == 0) out = "." + out;
  return out;
}

enum class Outcome { kPass, kFail, kUnknown, kError, kLeftBehind };

Outcome DrillOutcome(const Journal& j) {
  if (!AllReverted(j) || j.exit_code == 4) return Outcome::kLeftBehind;
  if (j.exit_code == 2 || j.exit_code == 3) return Outcome::kError;
  bool unknown = false;
  for (const auto& v : j.verdicts) {
    if (v.result == JournalVerdict::Result::kFail) return Outcome::kFail;
    if (v.result == JournalVerdict::Result::kUnknown) unknown = true;
  }
  if (j.exit_code == 1) return Outcome::kFail;
  return unknown ? Outcome::kUnknown : Outcome::kPass;
}

const char* OutcomeClass(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kFail: return "fail";
    case Outcome::kUnknown: return "unknown";
    case Outcome::kError: return "error";
    case Outcome::kLeftBehind: return "leftover";
  }
  return "unknown";
}

const char* OutcomeText(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "PASS";
    case Outcome::kFail: return "FAIL";
    case Outcome::kUnknown: return "UNKNOWN";
    case Outcome::kError: return "DID NOT RUN";
    case Outcome::kLeftBehind: return "FAULT LEFT BEHIND";
  }
  return "UNKNOWN";
}

const char* VerdictColour(JournalVerdict::Result r) {
  switch (r) {
    case JournalVerdict::Result::kPass: return tc::kPass;
    case JournalVerdict::Result::kFail: return tc::kFail;
    case JournalVerdict::Result::kUnknown: return tc::kUnknown;
  }
  return tc::kUnknown;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The span the picture covers: the whole run, and anything recorded past its end.
double TimelineEnd(const Journal& j) {
  double end = j.duration_ms;
  for (const auto& p : j.phases) end = std::max(end, p.end_ms);
  for (const auto& f : j.faults) end = std::max({end, f.inject_ms, f.revert_ms.value_or(0)});
  for (const auto& r : j.roles) end = std::max(end, r.t_ms);
  for (const auto& a : j.actions) end = std::max(end, a.t_ms + a.took_ms);
  for (const auto& v : j.verdicts) {
    end = std::max({end, v.deadline_ms.value_or(0), v.observed_ms.value_or(0),
                    v.window_start_ms.value_or(0)});
  }
  return end > 0 ? end : 1000.0;
}

double TickStep(double end_ms) {
  static const double kSteps[] = {100,    200,    500,     1000,    2000,    5000,   10000,
                                  15000,  30000,  60000,   120000,  300000,  600000, 900000,
                                  1800000, 3600000, 7200000};
  for (double s : kSteps) {
    if (end_ms / s <= 10) return s;
  }
  return std::ceil(end_ms / 10 / 3600000) * 3600000;
}

struct Lane {
  std::string host;
  std::vector<const JournalRole*> changes;  // by time
};

class Timeline {
 public:
  explicit Timeline(const Journal& j) : j_(j), end_(TimelineEnd(j)) {}

  std::string Svg(std::set<std::string>* roles_seen) {
    BuildLanes();
    const int kAxis = 24, kPhaseH = 14, kFaultH = 18, kLaneH = 26, kLaneGap = 6, kExpectH = 18;
    int y = kAxis;
    int phase_y = y;
    if (!j_.phases.empty()) y += kPhaseH + 8;
    int faults_y = y;
    y += static_cast<int>(j_.faults.size()) * (kFaultH + 4);
    if (!j_.faults.empty()) y += 6;
    int lanes_y = y;
    y += static_cast<int>(lanes_.size()) * (kLaneH + kLaneGap);
    int expect_y = y + 4;
    y = expect_y + static_cast<int>(j_.verdicts.size()) * (kExpectH + 2);
    int height = y + 10;

    std::string s;
    s += "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         std::to_string(tg::kWidth) + "\" height=\"" + std::to_string(height) +
         "\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"" +
         E("timeline of drill " + j_.drill) + "\">\n";

    // Axis and grid.
    double step = TickStep(end_);
    for (double t = 0; t <= end_ + 0.5; t += step) {
      double x = X(t);
      s += "<line x1=\"" + Num(x) + "\" y1=\"" + std::to_string(kAxis - 4) + "\" x2=\"" +
           Num(x) + "\" y2=\"" + std::to_string(height - 8) +
           "\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>";
      s += "<text x=\"" + Num(x) + "\" y=\"14\" class=\"tick\" text-anchor=\"middle\">" +
           E(FormatDuration(Millis(static_cast<long long>(std::llround(t))))) + "</text>\n";
    }

    // Phases.
    static const char* kPhaseFill[] = {"#eeeeee", "#e2e2e2"};
    for (size_t i = 0; i < j_.phases.size(); ++i) {
      const auto& p = j_.phases[i];
      double x0 = X(p.start_ms), x1 = X(std::max(p.end_ms, p.start_ms));
      s += "<rect x=\"" + Num(x0) + "\" y=\"" + std::to_string(phase_y) + "\" width=\"" +
           Num(std::max(1.0, x1 - x0)) + "\" height=\"" + std::to_string(kPhaseH) +
           "\" fill=\"" + kPhaseFill[i % 2] + "\"><title>" +
           E(p.name + " " + FormatOffset(p.start_ms) + " to " + FormatOffset(p.end_ms)) +
           "</title></rect>";
      if (x1 - x0 > 8.0 * static_cast<double>(DisplayWidth(p.name))) {
        s += "<text x=\"" + Num(x0 + 3) + "\" y=\"" + std::to_string(phase_y + 11) +
             "\" class=\"phase\">" + E(p.name) + "</text>";
      }
      s += "\n";
    }
    if (!j_.phases.empty()) {
      s += Label(phase_y + 11, "phases", "phases of the run");
    }

    // Fault track: one row per fault window, opaque, so it reads at a glance.
    for (size_t i = 0; i < j_.faults.size(); ++i) {
      const auto& f = j_.faults[i];
      int fy = faults_y + static_cast<int>(i) * (kFaultH + 4);
      double x0 = X(f.inject_ms);
      double x1 = X(FaultEnd(f));
      std::string hosts = Join(f.hosts, ", ");
      std::string tip = f.fault + " (" + f.action + ") on " + (hosts.empty() ? "?" : hosts) +
                        ": injected " + FormatOffset(f.inject_ms) +
                        (f.reverted && f.revert_ms ? ", reverted " + FormatOffset(*f.revert_ms)
                                                   : ", NOT REVERTED");
      s += "<rect class=\"fault" + std::string(f.reverted ? "" : " unreverted") + "\" x=\"" +
           Num(x0) + "\" y=\"" + std::to_string(fy) + "\" width=\"" +
           Num(std::max(2.0, x1 - x0)) + "\" height=\"" + std::to_string(kFaultH) +
           "\" fill=\"" + (f.reverted ? tc::kFault : tc::kUnreverted) + "\"><title>" + E(tip) +
           "</title></rect>";
      std::string inside = f.reverted ? f.fault : f.fault + " — NOT REVERTED";
      if (x1 - x0 > 7.0 * static_cast<double>(DisplayWidth(inside))) {
        s += "<text x=\"" + Num(x0 + 4) + "\" y=\"" + std::to_string(fy + 13) +
             "\" class=\"onbar\">" + E(inside) + "</text>";
      }
      s += Label(fy + 13, f.fault, tip, f.reverted ? "" : "loud");
      s += "\n";
    }

    // Host lanes: the role each host had, from one change to the next.
    for (size_t i = 0; i < lanes_.size(); ++i) {
      const auto& lane = lanes_[i];
      int ly = lanes_y + static_cast<int>(i) * (kLaneH + kLaneGap);
      s += "<rect x=\"" + std::to_string(tg::kLabelWidth) + "\" y=\"" + std::to_string(ly) +
           "\" width=\"" + std::to_string(tg::kPlotWidth) + "\" height=\"" +
           std::to_string(kLaneH) + "\" fill=\"#f7f7f7\"><title>" +
           E(lane.host + ": no role observed") + "</title></rect>";
      for (size_t k = 0; k < lane.changes.size(); ++k) {
        const JournalRole& r = *lane.changes[k];
        double t1 = k + 1 < lane.changes.size() ? lane.changes[k + 1]->t_ms : end_;
        double x0 = X(r.t_ms), x1 = X(t1);
        if (x1 - x0 < 0.5) continue;
        roles_seen->insert(r.role);
        s += "<rect class=\"role\" x=\"" + Num(x0) + "\" y=\"" + std::to_string(ly) +
             "\" width=\"" + Num(x1 - x0) + "\" height=\"" + std::to_string(kLaneH) +
             "\" fill=\"" + RoleColour(r.role) + "\"><title>" +
             E(lane.host + ": " + r.role + " from " + FormatOffset(r.t_ms) + " to " +
               FormatOffset(t1)) +
             "</title></rect>";
        if (x1 - x0 > 7.0 * static_cast<double>(DisplayWidth(r.role)) + 6) {
          s += "<text x=\"" + Num(x0 + 4) + "\" y=\"" + std::to_string(ly + 17) +
               "\" class=\"onbar\">" + E(r.role) + "</text>";
        }
      }
      // Fault windows shaded over the lanes of the hosts they hit (all lanes when the journal
      // does not say which).
      for (const auto& f : j_.faults) {
        bool hits = f.hosts.empty() ||
                    std::find(f.hosts.begin(), f.hosts.end(), lane.host) != f.hosts.end();
        if (!hits) continue;
        double x0 = X(f.inject_ms), x1 = X(FaultEnd(f));
        s += "<rect class=\"shade\" x=\"" + Num(x0) + "\" y=\"" + std::to_string(ly - 2) +
             "\" width=\"" + Num(std::max(2.0, x1 - x0)) + "\" height=\"" +
             std::to_string(kLaneH + 4) + "\" fill=\"" +
             (f.reverted ? "url(#shade-fault)" : "url(#shade-unreverted)") +
             "\" stroke=\"" + (f.reverted ? tc::kFault : tc::kUnreverted) +
             "\" stroke-width=\"" + (f.reverted ? "1" : "2") + "\"><title>" +
             E(f.fault + " on " + lane.host) + "</title></rect>";
      }
      s += Label(ly + 17, lane.host, lane.host);
      s += "\n";
    }

    // Expectations: the window each one was judged over, its deadline as a line through the
    // lanes, and the deciding observation as a dot.
    for (size_t i = 0; i < j_.verdicts.size(); ++i) {
      const auto& v = j_.verdicts[i];
      int ey = expect_y + static_cast<int>(i) * (kExpectH + 2);
      const char* colour = VerdictColour(v.result);
      std::string tip = v.id + ": " + ResultName(v.result) + " — " + VerdictMessage(v);
      if (v.window_start_ms || v.deadline_ms) {
        double a = X(v.window_start_ms.value_or(0));
        double b = X(v.deadline_ms.value_or(end_));
        if (b < a) std::swap(a, b);
        s += "<rect x=\"" + Num(a) + "\" y=\"" + std::to_string(ey + 6) + "\" width=\"" +
             Num(std::max(2.0, b - a)) + "\" height=\"6\" fill=\"" + colour +
             "\" fill-opacity=\"0.35\"><title>" + E(tip) + "</title></rect>";
      }
      if (v.deadline_ms) {
        double x = X(*v.deadline_ms);
        s += "<line class=\"deadline\" x1=\"" + Num(x) + "\" y1=\"" + std::to_string(lanes_y - 4) +
             "\" x2=\"" + Num(x) + "\" y2=\"" + std::to_string(ey + kExpectH) +
             "\" stroke=\"" + colour + "\" stroke-width=\"2\" stroke-dasharray=\"5 3\"><title>" +
             E(v.id + " deadline " + FormatOffset(*v.deadline_ms)) + "</title></line>";
      }
      if (v.observed_ms) {
        s += "<circle cx=\"" + Num(X(*v.observed_ms)) + "\" cy=\"" + std::to_string(ey + 9) +
             "\" r=\"5\" fill=\"" + colour +
             "\" stroke=\"#ffffff\" stroke-width=\"1\" shape-rendering=\"geometricPrecision\">"
             "<title>" +
             E(v.id + ": observed " + v.observed + " at " + FormatOffset(*v.observed_ms)) +
             "</title></circle>";
      }
      s += Label(ey + 13, v.id, tip);
      s += "\n";
    }

    s += "<defs>"
         "<pattern id=\"shade-fault\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"8\" fill=\"" +
         std::string(tc::kFault) +
         "\" fill-opacity=\"0.45\"/></pattern>"
         "<pattern id=\"shade-unreverted\" width=\"8\" height=\"8\" "
         "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"4\" "
         "height=\"8\" fill=\"" +
         std::string(tc::kUnreverted) + "\" fill-opacity=\"0.7\"/></pattern></defs>\n";
    s += "</svg>\n";
    return s;
  }

 private:
  double X(double t) const {
    double clamped = std::clamp(t, 0.0, end_);
    return tg::kLabelWidth + tg::kPlotWidth * clamped / end_;
  }

  double FaultEnd(const JournalFaultWindow& f) const {
    if (f.reverted && f.revert_ms) return *f.revert_ms;
    return end_;  // never reverted: it lasts as far as the picture goes
  }

  std::string Label(int y, const std::string& text, const std::string& tip,
                    const char* extra_class = "") {
    return "<text x=\"" + std::to_string(tg::kLabelWidth - 6) + "\" y=\"" + std::to_string(y) +
           "\" text-anchor=\"end\" class=\"label " + extra_class + "\">" + E(Clip(text, 18)) +
           "<title>" + E(tip) + "</title></text>";
  }

  void BuildLanes() {
    std::map<std::string, size_t> index;
    auto lane_for = [&](const std::string& host) -> Lane& {
      auto it = index.find(host);
      if (it == index.end()) {
        it = index.emplace(host, lanes_.size()).first;
        lanes_.push_back(Lane{host, {}});
      }
      return lanes_[it->second];
    };
    for (const auto& h : j_.hosts) lane_for(h);
    for (const auto& r : j_.roles) lane_for(r.host).changes.push_back(&r);
    for (auto& lane : lanes_) {
      std::stable_sort(lane.changes.begin(), lane.changes.end(),
                       [](const JournalRole* a, const JournalRole* b) { return a->t_ms < b->t_ms; });
    }
  }

  const Journal& j_;
  double end_;
  std::vector<Lane> lanes_;
};

std::string Swatch(const char* colour, const std::string& label, bool hatched = false) {
  return std::string("<span class=\"swatch") + (hatched ? " hatched" : "") +
         "\" style=\"background:" + colour + "\"></span>" + E(label) + " ";
}

std::string Legend(const Journal& j, const std::set<std::string>& roles) {
  std::string s = "<div class=\"legend\">";
  for (const auto& r : roles) s += Swatch(RoleColour(r), r);
  bool reverted = false, unreverted = false;
  for (const auto& f : j.faults) (f.reverted ? reverted : unreverted) = true;
  if (reverted) s += Swatch(tc::kFault, "fault window");
  if (unreverted) s += Swatch(tc::kUnreverted, "fault NOT reverted");
  if (!j.verdicts.empty()) {
    s += "<span class=\"key\">┆ deadline, ● deciding observation, bar: window judged</span>";
  }
  return s + "</div>\n";
}

std::string VerdictTableHtml(const Journal& j) {
  std::string s =
      "<table class=\"verdicts\"><thead><tr><th>Expectation</th><th>Expected</th>"
      "<th>Observed</th><th>When</th><th>Recovery</th><th>Verdict</th></tr></thead><tbody>\n";
  if (j.verdicts.empty()) {
    s += "<tr><td colspan=\"6\" class=\"empty\">no expectations were judged</td></tr>\n";
  }
  for (const auto& v : j.verdicts) {
    s += "<tr class=\"" + std::string(ResultName(v.result)) + "\"><td><code>" + E(v.id) +
         "</code>";
    if (!v.mark.ToString().empty()) s += "<br><span class=\"dim\">" + E(v.mark.ToString()) + "</span>";
    s += "</td><td>" + E(v.expected) + "</td><td>" + E(v.observed) + "</td><td>" +
         (v.observed_ms ? E(FormatOffset(*v.observed_ms)) : std::string("—")) +
         (v.deadline_ms ? "<br><span class=\"dim nowrap\">deadline " + E(FormatOffset(*v.deadline_ms)) +
                              "</span>"
                        : std::string()) +
         "</td><td class=\"nowrap\">" + (v.recovery_ms ? E(FormatSpan(*v.recovery_ms)) : std::string("—")) +
         "</td><td class=\"verdict\">" + ResultName(v.result) + "</td></tr>\n";
    if (v.result != JournalVerdict::Result::kPass && !v.message.empty()) {
      s += "<tr class=\"" + std::string(ResultName(v.result)) +
           " message\"><td></td><td colspan=\"5\">" + E(v.message) + "</td></tr>\n";
    }
  }
  std::string reverted = AllReverted(j) ? "pass" : "fail";
  s += "<tr class=\"" + reverted + "\"><td><code>" + E(kRevertedCaseName) +
       "</code></td><td>every fault reverted, nothing left on a host</td><td>" +
       (AllReverted(j) ? std::string("all reverted")
                       : E(std::to_string(j.leftovers.size()) + " left behind")) +
       "</td><td>—</td><td>—</td><td class=\"verdict\">" + reverted + "</td></tr>\n";
  return s + "</tbody></table>\n";
}

std::string ActionsHtml(const Journal& j) {
  std::string s = "<details open><summary>Actions (" + std::to_string(j.actions.size()) +
                  ")</summary>\n<table class=\"actions\"><thead><tr><th>At</th><th>Took</th>"
                  "<th>Host</th><th>Fault</th><th>Kind</th><th>What</th><th>Result</th></tr>"
                  "</thead><tbody>\n";
  for (const auto& a : j.actions) {
    s += "<tr class=\"" + std::string(a.ok ? "ok" : "fail") + "\"><td>" + E(FormatOffset(a.t_ms)) +
         "</td><td>" + E(FormatSpan(a.took_ms)) + "</td><td>" + E(a.host) + "</td><td>" +
         E(a.fault) + "</td><td>" + E(a.kind) + "</td><td><code>" + E(a.detail) +
         "</code></td><td>" + (a.ok ? std::string("ok") : "FAILED: " + E(a.error)) +
         "</td></tr>\n";
  }
  return s + "</tbody></table></details>\n";
}

// The probes' observations, shortened to the moments a value changed: the whole sample
// stream is in the JSON journal, the page shows what a reader looks for.
std::string ObservationsHtml(const Journal& j) {
  if (j.samples.empty()) return "";
  constexpr size_t kMaxChangesPerProbe = 300;
  std::map<std::string, std::vector<std::string>> changes;
  std::map<std::string, std::string> last;
  std::map<std::string, size_t> counts;
  for (const auto& smp : j.samples) {
    ++counts[smp.probe];
    std::string shown = smp.unreachable
                            ? "unreachable: " + smp.error
                            : (smp.value.is_null()
                                   ? std::string("absent")
                                   : smp.value.dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace));
    auto it = last.find(smp.probe);
    if (it != last.end() && it->second == shown) continue;
    last[smp.probe] = shown;
    auto& list = changes[smp.probe];
    if (list.size() < kMaxChangesPerProbe) {
      list.push_back("<tr><td>" + E(FormatOffset(smp.t_ms)) + "</td><td" +
                     (smp.unreachable ? " class=\"fail\"" : "") + "><code>" + E(shown) +
                     "</code></td></tr>");
    } else if (list.size() == kMaxChangesPerProbe) {
      list.push_back("<tr><td colspan=\"2\" class=\"dim\">further changes in the JSON journal</td></tr>");
    }
  }
  std::string s = "<details><summary>Observations (" + std::to_string(j.samples.size()) +
                  " samples, shown where a value changed)</summary>\n";
  for (const auto& [probe, rows] : changes) {
    s += "<h4><code>" + E(probe) + "</code> <span class=\"dim\">" +
         std::to_string(counts[probe]) + " samples</span></h4>\n<table class=\"obs\"><tbody>";
    for (const auto& r : rows) s += r;
    s += "</tbody></table>\n";
  }
  return s + "</details>\n";
}

std::string AttachmentsHtml(const Journal& j) {
  if (!j.attachments.is_object() || j.attachments.empty()) return "";
  std::string s = "<div class=\"attachments\"><strong>Attachments:</strong><ul>";
  for (const auto& [name, path] : j.attachments.items()) {
    if (!path.is_string()) continue;
    std::string p = path.get<std::string>();
    s += "<li><a href=\"" + E(HrefFor(p)) + "\">" + E(name) + "</a> <span class=\"dim\">" +
         E(p) + "</span></li>";
  }
  return s + "</ul></div>\n";
}

std::string DrillSection(const Journal& j, size_t index) {
  Outcome o = DrillOutcome(j);
  std::string s = "<section class=\"drill\" id=\"drill-" + std::to_string(index) + "\">\n";
  s += "<h2><span class=\"badge " + std::string(OutcomeClass(o)) + "\">" + OutcomeText(o) +
       "</span> " + E(j.drill) + (j.title.empty() ? "" : " — " + E(j.title)) + "</h2>\n";
  s += "<p class=\"meta\">run <code>" + E(j.run_id) + "</code> · started " +
       E(j.started_at.empty() ? "?" : j.started_at) + " · took " + E(FormatSpan(j.duration_ms)) +
       " · inventory " + E(j.inventory) + " · drill " + E(j.drill_file) + " · exit code " +
       std::to_string(j.exit_code) + "</p>\n";

  if (!AllReverted(j)) {
    s += "<div class=\"leftovers\"><strong>Left behind on a host — clean up now "
         "(<code>faultline cleanup -i INVENTORY</code>):</strong><ul>";
    for (const auto& f : j.faults) {
      if (f.reverted) continue;
      s += "<li>" + E(f.fault + " (" + f.action + ") on " + Join(f.hosts, ", ") +
                      ", injected at " + FormatOffset(f.inject_ms) + ", never reverted") +
           "</li>";
    }
    for (const auto& l : j.leftovers) s += "<li>" + E(l) + "</li>";
    s += "</ul></div>\n";
  }
  if (!j.notes.empty()) {
    s += "<div class=\"notes\"><strong>Notes:</strong><ul>";
    for (const auto& n : j.notes) s += "<li>" + E(n) + "</li>";
    s += "</ul></div>\n";
  }

  std::set<std::string> roles;
  Timeline timeline(j);
  std::string svg = timeline.Svg(&roles);
  s += "<div class=\"grid\"><div class=\"picture\">" + svg + Legend(j, roles) + "</div>";
  s += "<div class=\"table\">" + VerdictTableHtml(j) + "</div></div>\n";
  s += AttachmentsHtml(j);
  s += ActionsHtml(j);
  s += ObservationsHtml(j);
  return s + "</section>\n";
}

// The page's own reds and greens differ from the timeline's colours on purpose: the screenshot
// test measures the timeline by its exact colours and must not find them elsewhere.
constexpr const char* kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 12px 18px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 18px 0 4px; }
h4 { margin: 10px 0 2px; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e6e6e6; vertical-align: top; }
th { background: #f3f3f3; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.meta, .dim { color: #666; font-size: 12px; }
.summary td.verdict, table.verdicts td.verdict { font-weight: bold; text-transform: uppercase; }
tr.pass td.verdict { color: #2e7d32; }
tr.fail td.verdict, tr.leftover td.verdict { color: #c62828; }
tr.unknown td.verdict, tr.error td.verdict { color: #6d6d6d; }
tr.message td { color: #8a1c1c; font-size: 12px; border-bottom: 1px solid #e6e6e6; }
tr.fail td { background: #fdf1f1; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; color: #fff; font-size: 13px; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; }
.badge.unknown, .badge.error { background: #6d6d6d; }
.badge.leftover { background: #b00020; font-size: 15px; padding: 3px 10px; }
.leftovers { border: 3px solid #b00020; background: #fff0f0; padding: 6px 12px; margin: 8px 0; font-size: 14px; }
.notes { border-left: 5px solid #e6b400; background: #fffbe6; padding: 4px 12px; margin: 8px 0; font-size: 13px; }
.leftovers ul, .notes ul, .attachments ul { margin: 4px 0; padding-left: 20px; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.picture { flex: 0 0 auto; }
.table { flex: 1 1 420px; min-width: 380px; }
table.verdicts { font-size: 12px; width: 100%; }
table.verdicts td { overflow-wrap: anywhere; }
table.verdicts td.verdict, table.verdicts .nowrap { white-space: nowrap; overflow-wrap: normal; }
svg.timeline text { font-size: 11px; fill: #333; }
svg.timeline text.onbar { fill: #fff; font-size: 11px; }
svg.timeline text.tick, svg.timeline text.phase { fill: #777; font-size: 10px; }
svg.timeline text.loud { fill: #b00020; font-weight: bold; }
.legend { font-size: 12px; color: #444; margin: 2px 0 6px; max-width: 820px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px; vertical-align: middle; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; font-size: 14px; }
)css";

}  // namespace

const char* RoleColour(std::string_view role) {
  std::string r = Lower(role);
  static const std::set<std::string> kLeading = {"leader", "leading", "active", "controller",
                                                 "master", "primary", "active-master"};
  static const std::set<std::string> kFollowing = {"follower", "following", "standby", "backup",
                                                   "backup-master", "secondary", "replica"};
  static const std::set<std::string> kObserving = {"observer", "observing"};
  static const std::set<std::string> kElecting = {"looking", "electing", "candidate",
                                                  "transitioning", "initializing"};
  static const std::set<std::string> kDownish = {"down", "stopped", "dead", "killed", "paused",
                                                 "frozen", "crashed", "fenced"};
  static const std::set<std::string> kUnreachable = {"unreachable", "unknown", "?"};
  if (kLeading.count(r)) return tc::kLeader;
  if (kFollowing.count(r)) return tc::kFollower;
  if (kObserving.count(r)) return tc::kObserver;
  if (kElecting.count(r)) return tc::kElecting;
  if (kDownish.count(r)) return tc::kDown;
  if (kUnreachable.count(r)) return tc::kUnreachable;
  // Stable across runs and machines (std::hash is not promised to be).
  static const char* kOthers[] = {"#7570b3", "#a6761d", "#66a61e", "#b15928", "#1f9fb4"};
  unsigned h = 2166136261u;
  for (unsigned char c : r) h = (h ^ c) * 16777619u;
  return kOthers[h % (sizeof kOthers / sizeof kOthers[0])];
}

std::string HtmlReport(const std::vector<Journal>& journals) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  // No script and no fetch of any kind: the page must render the same offline and from an
  // archive, and nothing from a journal can make it run code.
  s += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; img-src data:\">\n";
  std::string title = "faultline report";
  if (journals.size() == 1) title += ": " + journals.front().drill;
  s += "<title>" + E(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n";

  int pass = 0, fail = 0, other = 0;
  for (const auto& j : journals) {
    Outcome o = DrillOutcome(j);
    (o == Outcome::kPass ? pass : o == Outcome::kFail ? fail : other)++;
  }
  s += "<h1>" + E(title) + "</h1>\n<p class=\"meta\">" + std::to_string(journals.size()) +
       " drill(s): " + std::to_string(pass) + " passed, " + std::to_string(fail) + " failed, " +
       std::to_string(other) + " unknown, not run or with a fault left behind";
  if (!journals.empty() && !journals.front().run_id.empty()) {
    s += " · run <code>" + E(journals.front().run_id) + "</code>";
  }
  s += "</p>\n";
  if (journals.size() > 1) {
    s += "<table class=\"summary\"><tbody>";
    for (size_t i = 0; i < journals.size(); ++i) {
      const auto& j = journals[i];
      Outcome o = DrillOutcome(j);
      s += "<tr class=\"" + std::string(OutcomeClass(o)) + "\"><td><a href=\"#drill-" +
           std::to_string(i) + "\">" + E(j.drill) + "</a></td><td>" + E(j.title) +
           "</td><td class=\"verdict\">" + OutcomeText(o) + "</td></tr>";
    }
    s += "</tbody></table>\n";
  }
  for (size_t i = 0; i < journals.size(); ++i) s += DrillSection(journals[i], i);
  s += "</body></html>\n";
  return s;
}

}  // namespace faultline

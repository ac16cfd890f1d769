// One self-contained HTML page for a run: inline CSS and SVG, no script, no network, so it
// opens from a file on a laptop or from Jenkins' archived artifacts alike.
//
// Per drill: a timeline (a lane per host with its role over time, fault windows shaded and
// unreverted ones loud, expectation windows and deadlines marked), the verdict table beside it,
// leftovers and notes above it, the actions, the probes' value changes and the attachments.
// Every string from the journal is escaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/journal.h"

namespace faultline {

// The timeline's colours. They are part of the page's contract: the screenshot test looks
// for them, so a change here is a change there.
namespace timeline_colour {
inline constexpr const char* kLeader = "#1b9e77";      // leader, active, controller, master
inline constexpr const char* kFollower = "#3f6fc4";    // follower, standby, backup
inline constexpr const char* kObserver = "#8db4e6";    // observer
inline constexpr const char* kElecting = "#e6b400";    // looking, electing, candidate
inline constexpr const char* kDown = "#4d4d4d";        // down, stopped, killed, paused
inline constexpr const char* kUnreachable = "#c8c8c8"; // unreachable, unknown
inline constexpr const char* kFault = "#f28e2b";       // a fault window, reverted
inline constexpr const char* kUnreverted = "#e0001b";  // a fault never reverted
inline constexpr const char* kPass = "#2e7d32";
inline constexpr const char* kFail = "#c62828";
inline constexpr const char* kUnknown = "#8a8a8a";
}  // namespace timeline_colour

// The colour of a role's lane segment. Roles outside the known families get one of a few
// further colours, the same one for the same name on every page.
const char* RoleColour(std::string_view role);

// Geometry of the timeline SVG, in CSS pixels (the SVG is not scaled).
namespace timeline_geometry {
inline constexpr int kWidth = 820;
inline constexpr int kLabelWidth = 130;  // host names, fault names, expectation ids
inline constexpr int kRightMargin = 20;
inline constexpr int kPlotWidth = kWidth - kLabelWidth - kRightMargin;
}  // namespace timeline_geometry

std::string HtmlReport(const std::vector<Journal>& journals);

}  // namespace faultline

// The generic `command` fault: the drill gives the commands that inject and revert it,
// run on the target host over its transport. It lets a drill do anything the dedicated
// fault kinds do not (stop a service with its own script, flip a feature flag) and is what
// runs a drill end to end on one machine before any agent is installed.
//
//   - name: stop-listener
//     action: command
//     target: {host: app1}
//     inject: [systemctl, stop, myapp]        # an argv list, or a string split into words
//     revert: "systemctl start myapp"         # never given to a shell: write `sh -c` yourself
//                                             # or a list of argv lists, run in order:
//                                             # [[cp, a, b], ["${host.faultline_services.x.start}"]]
//     check: [systemctl, is-failed, myapp]    # optional: exits 0 while the fault is in place
//     timeout: 30s                            # optional, per command
//     removes_host: true                      # optional: counts for the quorum safety rule
//
// `${host}` in any word becomes the target's inventory name, `${address}` its ansible_host.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "faults/fault.h"

namespace faultline {

// Reads a command written as an argv list (strings or numbers) or as a string split into
// words. Words split at blanks; single and double quotes group words and are removed, a
// backslash escapes the next character outside single quotes. Nothing is expanded.
// On failure returns false and says why in `why`.
bool ParseCommandWords(const nlohmann::json& value, std::vector<std::string>* argv, std::string* why);

// inject and revert may also be a list of commands, each an argv list, run in order:
// written as a list whose every element is a list. Anything else is one command.
bool ParseCommandSequence(const nlohmann::json& value, std::vector<std::vector<std::string>>* commands,
                          std::string* why);

// Registers the `command` action in FaultCatalogue (removes_host = false: the safety rule
// reads the fault's own `removes_host: true` when the drill declares one).
void RegisterCommandFault();

}  // namespace faultline

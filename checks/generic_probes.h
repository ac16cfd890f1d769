// Probes that need no knowledge of any particular system:
//
//   command  run an argv on a host; value = its exit status (value: exit, the default),
//            its trimmed stdout (value: stdout; empty output is "absent"), or whether it
//            exited 0 (value: ok).         params: host, command, [value], [timeout]
//   tcp      connect from the controller to the host's address (or `address`) and `port`;
//            value = true when the connection is accepted, false when refused or timed out.
//                                          params: host, port, [address]
//   log      lines matching a regular expression (ECMAScript) in a file on a host, counted
//            from the start of the run or from when the fault named by `since` was
//            injected; value = the count (value: count, the default) or the last matching
//            line (value: last).           params: host, path, pattern, [value], [since]
//
// A probe that cannot observe (command not runnable, file missing, transport down)
// yields Observation::Unreachable with the reason, never an error or a crash.
#pragma once

namespace faultline {

// Registers `command`, `tcp` and `log` in ProbeRegistry.
void RegisterGenericProbes();

}  // namespace faultline

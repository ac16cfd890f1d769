// Operating-system helpers of the agent: running programs without a shell, reading
// /proc, finding processes, detecting kernel features, detaching daemons.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline::agent {

struct CommandResult {
  int exit_status = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv (PATH lookup, no shell) with stdin from /dev/null, to completion or until
// `timeout` passes (then the child is killed). Failing to start is kUnavailable.
// `input`, when given, is written to the program's stdin instead.
Status RunCommand(const std::vector<std::string>& argv, CommandResult* result,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(30000),
                  const std::string* input = nullptr);

// Like RunCommand, but a non-zero exit is an error naming the command and its stderr.
Status RunChecked(const std::vector<std::string>& argv, std::string* out = nullptr);

// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat),
// which together with the PID names one process for good: PIDs are reused, this pair
// is not. Nullopt when the process is gone.
std::optional<unsigned long long> ProcessStartTime(pid_t pid);

// The process state letter (R, S, T, Z, ...) or '\0' when gone.
char ProcessState(pid_t pid);

// A process faultline may signal, identified for good.
struct ProcessId {
  pid_t pid = 0;
  unsigned long long start_time = 0;
  std::string cmdline;
};

// True if `id` still names the same live process.
bool SameProcess(const ProcessId& id);

// Finds processes like `pgrep -f PATTERN` (POSIX extended regex over the command line
// joined with spaces), never the agent itself, its ancestors or its own helpers.
Status FindByPattern(const std::string& pattern, std::vector<ProcessId>* out);
// Finds JVMs whose main class (the first argument after the JVM options) is `main_class`.
Status FindByJavaClass(const std::string& main_class, std::vector<ProcessId>* out);
// Reads a pidfile; the process must be alive.
Status FindByPidfile(const std::string& path, std::vector<ProcessId>* out);

// Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync dir.
Status WriteFileAtomic(const std::string& path, const std::string& data);
Status ReadFile(const std::string& path, std::string* out);

// Milliseconds of CLOCK_MONOTONIC: shared by every process on the host, unaffected by
// wall-clock steps, so the agent and its watchdog agree on lease deadlines.
long long MonotonicMs();

// Starts `argv` (argv[0] an absolute path) as a daemon: double fork, setsid, stdio on
// /dev/null, every other descriptor closed. It survives the agent and the SSH session.
// Returns the daemon's PID (read back through a pipe from the intermediate child).
Status SpawnDetached(const std::vector<std::string>& argv, pid_t* pid);

// The path of the running agent binary (/proc/self/exe resolved).
std::string SelfExe();

struct KernelFeatures {
  bool netem = false;
  std::string iptables;  // "nft", "legacy" or "" when no iptables is installed
  bool nfqueue = false;
  bool systemd = false;
  bool conntrack_tool = false;
};
KernelFeatures DetectFeatures();

}  // namespace faultline::agent

// The operating-system chores of the lab: running tools, starting daemons inside a
// network namespace, ending processes by PID, files written atomically.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline::lab {

struct RunResult {
  int status = -1;  // exit status; -1 when it could not run or was killed by a signal
  std::string out;
  std::string err;
};

// Runs argv (never through a shell) and waits; argv[0] is looked up in PATH.
// Fails only when the program could not be started.
Status Run(const std::vector<std::string>& argv, RunResult* result);
// As Run, but a non-zero exit is an error naming the command and its stderr.
Status RunOk(const std::vector<std::string>& argv, std::string* out = nullptr);

struct DaemonSpec {
  std::vector<std::string> argv;  // argv[0] must be an absolute path
  std::string netns;              // "" : this network namespace
  std::string log_file;           // stdout and stderr, appended
  std::string cwd = "/";
  std::map<std::string, std::string> env;  // added to the environment
};

// Starts a daemon that outlives the caller: inside `netns`, in its own session,
// reparented to init (no zombie is left with the caller). Returns its PID once exec
// succeeded; a failed exec is an error.
Status SpawnDaemon(const DaemonSpec& spec, pid_t* pid);

// The kernel's start time of `pid` (clock ticks since boot), 0 if there is no such process.
// Stored with every PID so a recycled PID is never mistaken for ours.
unsigned long long ProcessStartTime(pid_t pid);
// True when `pid` exists, is not a zombie and (if start_time != 0) started at start_time.
bool ProcessAlive(pid_t pid, unsigned long long start_time = 0);
// SIGTERM (and SIGCONT, so a paused process can act on it), waits up to `grace`, then
// SIGKILL and waits until it is gone. Only if it is still the process we started.
void EndProcess(pid_t pid, unsigned long long start_time, std::chrono::milliseconds grace);
// PIDs of every process in network namespace `netns` (they are all the lab's).
std::vector<pid_t> NetnsPids(const std::string& netns);

Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);
std::string ReadFileOr(const std::string& path, const std::string& fallback = "");
bool PathExists(const std::string& path);

// The directory holding the running executable.
std::string SelfDir();
// Finds a program: the environment variable `env_override` when set, then beside this
// executable and in the build tree's sibling folders (lab/, coord/, services/), then PATH.
// Returns "" when nowhere.
std::string FindProgram(const std::string& name, const std::string& env_override = "");

}  // namespace faultline::lab

// faultline-supervisor: the per-host service manager of the lab, standing in for
// systemd so that `start`, `stop` and `status` of a service are real actions an inventory
// can name as its service commands.
//
// One supervisor runs in each lab host's network namespace. It starts its services
// (each in its own process group, output appended to the service's log file, PID in
// <run_dir>/<name>.pid), reaps them, and answers one-line requests on a Unix socket:
//   start NAME | stop NAME | restart NAME | status NAME | list
// A service that dies is not restarted: a drill that kills a process must see it stay
// dead until the drill (or an operator) starts it again, as with Restart=no.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline::lab {

struct SupervisedService {
  std::string name;
  std::vector<std::string> argv;  // argv[0] absolute
  std::map<std::string, std::string> env;
  std::string cwd = "/";
  bool autostart = true;
  int stop_timeout_ms = 10000;  // SIGTERM, then SIGKILL after this
};

struct SupervisorConfig {
  std::string host;
  std::string socket;   // Unix socket path
  std::string run_dir;  // pidfiles
  std::string log_dir;  // <name>.log per service
  std::vector<SupervisedService> services;
};

Status SaveSupervisorConfig(const std::string& path, const SupervisorConfig& config);
Status LoadSupervisorConfig(const std::string& path, SupervisorConfig* config);

// Runs the supervisor until SIGTERM or SIGINT, then stops every service. Returns the
// process exit code.
int RunSupervisor(const SupervisorConfig& config);

// Sends one request and returns the reply line. Replies start with "ok", "running",
// "stopped" or "error".
Status SupervisorRequest(const std::string& socket, const std::string& request, std::string* reply,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Exit code of the command-line client for a reply: 0 ok/running, 3 stopped (as LSB and
// systemctl status), 1 error.
int ReplyExitCode(const std::string& reply);

}  // namespace faultline::lab

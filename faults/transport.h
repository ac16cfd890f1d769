// How the controller reaches a host: run a command, keep a process open (the agent),
// put a file there. Implementations: local (Boost.Process, optionally inside a network
// namespace) and ssh (libssh).
//
// Every command is an argument vector. An implementation that has to go through a shell
// (ssh exec) builds the text with ShellJoin (base/shell.h) and nowhere else.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline {

struct InventoryHost;

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH on the host
  std::string stdin_data;
  std::chrono::milliseconds timeout{30000};
};

struct ExecResult {
  int exit_status = -1;  // -1 when killed by a signal or timed out
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;
};

// A long-lived process on the host with line-oriented stdin/stdout (the agent).
// Thread safety: one writer and one reader may work concurrently.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual Status WriteLine(const std::string& line) = 0;
  // Returns kTimeout if no full line arrived in time, kUnavailable when the process ended.
  virtual Status ReadLine(std::string* line, std::chrono::milliseconds timeout) = 0;
  // Closes stdin and releases the process; does not kill anything on the host.
  virtual void Close() = 0;
};

// Thread safety: Exec may be called from several threads at once (probes sample in
// parallel); implementations serialise internally where they must.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual const std::string& host() const = 0;  // the inventory host name
  // Runs argv to completion. A non-zero exit status is not an error (the caller reads
  // it from `out`); failing to run at all is kUnavailable, a timeout kTimeout.
  virtual Status Exec(const ExecRequest& request, ExecResult* out) = 0;
  virtual Status Open(const std::vector<std::string>& argv, std::unique_ptr<Channel>* out) = 0;
  // Copies a local file to `remote_path` with `mode`, atomically (temporary name, rename).
  virtual Status Upload(const std::string& local_path, const std::string& remote_path, int mode) = 0;
  // A short description for logs and journals: "ssh root@10.77.0.11:22", "netns fl-zk1".
  virtual std::string Describe() const = 0;
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{10000};
  bool accept_new_host_keys = false;  // strict host-key checking unless asked otherwise
  std::string known_hosts;            // default: ~/.ssh/known_hosts
};

// Makes the transport an inventory host asks for (faultline_transport). Kinds are
// registered explicitly at start-up (orchestrator/registry.cc), never by static
// initialisers: those are dropped when linked from a static library.
using TransportMaker = std::function<Status(const InventoryHost&, const TransportOptions&,
                                            std::unique_ptr<Transport>*)>;
void RegisterTransportKind(const std::string& kind, TransportMaker maker);
Status MakeTransport(const InventoryHost& host, const TransportOptions& options,
                     std::unique_ptr<Transport>* out);

}  // namespace faultline

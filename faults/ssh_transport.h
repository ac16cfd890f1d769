// The `ssh` transport: libssh sessions to inventory hosts.
//
// One SshTransport holds one SSH connection to its host for the whole run (made on first
// use, made again once if the server dropped it); every Exec and Open is a new channel on
// it. libssh allows one thread per session at a time, so every libssh call on a session is
// made under that session's mutex; waiting for output happens outside it (poll on the
// socket), so probes sampling in parallel and the agent's long-lived channel share one
// connection without blocking one another.
//
// Host keys are checked strictly against known_hosts unless accept_new_host_keys is set,
// in which case an unknown key is appended (a changed key is refused either way).
// Authentication: the inventory's key file, else ssh-agent and the user's default keys;
// a password only through an environment variable the inventory names
// (faultline_ssh_password_env), and never logged.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "faults/transport.h"

namespace faultline {

struct InventoryHost;

// Where and as whom to connect; everything an inventory host says about SSH.
struct SshEndpoint {
  std::string address;
  int port = 22;
  std::string user = "root";
};

struct SshTarget {
  std::string host_name;  // inventory name, for messages
  SshEndpoint endpoint;
  std::string key_file;            // "" : ssh-agent, then ~/.ssh/id_*
  std::string password_env;        // name of an environment variable; "" : none
  std::string known_hosts;         // "" : ~/.ssh/known_hosts
  bool accept_new_host_keys = false;
  std::chrono::milliseconds connect_timeout{10000};
  std::optional<SshEndpoint> jump;  // ProxyJump: reach `endpoint` through this host
};

// Reads the Ansible connection variables of `host` (ansible_host, ansible_port,
// ansible_user, ansible_ssh_private_key_file, ansible_ssh_common_args with
// `-o ProxyJump=`, `-J` and `-o UserKnownHostsFile=`) and faultline's own
// (faultline_jump_host "user@host:port", faultline_ssh_known_hosts,
// faultline_ssh_password_env). An explicit options.known_hosts wins over the inventory.
// kInvalid (naming the host and where it was defined) for values that cannot be used.
Status SshTargetFromInventory(const InventoryHost& host, const TransportOptions& options,
                              SshTarget* out);

// Parses "user@host:port", "host:port", "[v6]:port", "user@host"; defaults from `fallback`.
std::optional<SshEndpoint> ParseSshEndpoint(const std::string& text, const SshEndpoint& fallback);

class SshSession;

class SshTransport : public Transport {
 public:
  explicit SshTransport(SshTarget target);
  ~SshTransport() override;

  // Connects and authenticates now rather than on first use (fan-out at start of a run).
  Status Connect();

  const std::string& host() const override { return target_.host_name; }
  Status Exec(const ExecRequest& request, ExecResult* out) override;
  Status Open(const std::vector<std::string>& argv, std::unique_ptr<Channel>* out) override;
  Status Upload(const std::string& local_path, const std::string& remote_path, int mode) override;
  std::string Describe() const override;

 private:
  // The live session, connecting (again) when there is none or it was dropped.
  Status Session(std::shared_ptr<SshSession>* out);
  // Writes `local_path` to a temporary name beside `remote_path` over SFTP.
  Status SendFile(const std::string& local_path, const std::string& remote_path, int mode,
                  std::string* tmp);

  SshTarget target_;
  std::mutex mu_;  // guards session_
  std::shared_ptr<SshSession> session_;
};

// Registers transport kind "ssh".
void RegisterSshTransport();

// Runs fn(host) for every host, at most `max_parallel` at once (<= 0: all at once), and
// waits for all. Returns Ok when every call succeeded, else the first failure in `hosts`
// order annotated with its host, with the number of other failures appended. Each host's
// result is stored in `results` when given.
Status ForEachHost(const std::vector<std::string>& hosts, int max_parallel,
                   const std::function<Status(const std::string& host)>& fn,
                   std::map<std::string, Status>* results = nullptr);

}  // namespace faultline

// Transports for hosts the controller reaches without a network hop: `local` (this machine)
// and `netns` (this machine, inside a network namespace, as the lab's hosts are).
//
// Processes are started with Boost.Process. Each child gets its own process group, so a
// Ctrl-C on the controller's terminal does not reach a service a fault restarted, and a
// timed-out command can be killed together with whatever it spawned. Pipes are created
// close-on-exec, so a long-lived child started on one thread never holds another thread's
// pipe open (which would keep that command's stdin from ever reaching end-of-file).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "faults/transport.h"

namespace faultline {

struct InventoryHost;

class LocalTransport : public Transport {
 public:
  // `netns` empty: run directly; otherwise every command runs under
  // `ip netns exec <netns>` (needs root and an existing namespace).
  LocalTransport(std::string host, std::string netns);

  const std::string& host() const override { return host_; }
  Status Exec(const ExecRequest& request, ExecResult* out) override;
  Status Open(const std::vector<std::string>& argv, std::unique_ptr<Channel>* out) override;
  Status Upload(const std::string& local_path, const std::string& remote_path, int mode) override;
  std::string Describe() const override;

  // The argv actually started for `argv` (with the netns prefix when there is one).
  std::vector<std::string> Wrap(const std::vector<std::string>& argv) const;

 private:
  std::string host_;
  std::string netns_;
};

// Registers the transport kinds `local` and `netns` (faultline_netns names the namespace).
void RegisterLocalTransports();

}  // namespace faultline

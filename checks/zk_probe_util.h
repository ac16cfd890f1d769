// Shared pieces of the role probes: parameter checks that name the drill's file:line:col,
// the ZooKeeper servers of an inventory, and a probe that reads znodes through one cached
// client session.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "checks/probe.h"
#include "checks/zk_client.h"

namespace faultline {

// The ZooKeeper servers, in inventory order: the hosts of `group` (probe param `group`,
// else the inventory variable zookeeper_group, else "zookeeper").
// Each server's AdminServer: zookeeper_admin_url (a base such as https://zk1:8443/commands; the
// AdminServer is then read first), else http://<address>:<zookeeper_admin_port, 8080>/commands,
// read where a four-letter word is refused; zookeeper_admin_ca_file for https.
struct ZkServer {
  std::string host;     // inventory name
  std::string address;  // ansible_host
  int port = 2181;      // zookeeper_client_port
  std::string admin_url;
  std::string admin_ca_file;
  bool admin_first = false;  // zookeeper_admin_url is set
};
std::string ZkGroupFor(const ProbeSpec& spec, const Inventory& inventory);
Status ZkServersOf(const Inventory& inventory, const std::string& group, std::vector<ZkServer>* out);
// "a:2181,b:2181": zookeeper_connect on `all` if set, else built from the servers.
std::string ZkConnectString(const Inventory& inventory, const std::vector<ZkServer>& servers);

// A ZooKeeper client connect string as ZooKeeper's ConnectStringParser reads it:
// "h1:2181,h2:2181/chroot". `hosts` gets the part before the first '/', `chroot` the rest
// ("" when absent or "/"). The chroot must be a valid znode path (PathUtils.validatePath:
// no trailing '/', no empty, "." or ".." segment). Errors say what is wrong, for the caller
// to prefix with where the string came from.
Status ParseZkConnect(const std::string& text, std::string* hosts, std::string* chroot);

// kInvalid "<mark>: probe <name>: unknown parameter 'x' (expected one of: ...)".
Status CheckParams(const ProbeSpec& spec, const std::set<std::string>& allowed,
                   const std::set<std::string>& required = {});
std::string ParamString(const ProbeSpec& spec, const std::string& key, const std::string& fallback = "");
// Reads an inventory variable from `all` or any host (the first host that has it).
std::string InventoryVar(const Inventory& inventory, const std::string& key, const std::string& fallback = "");

// A probe made of a function.
class FnProbe : public Probe {
 public:
  using Fn = std::function<Observation(ProbeContext&, std::chrono::milliseconds)>;
  explicit FnProbe(Fn fn) : fn_(std::move(fn)) {}
  Observation Sample(ProbeContext& ctx, std::chrono::milliseconds timeout) override {
    try {
      return fn_(ctx, timeout);
    } catch (const std::exception& e) {
      return Observation::Unreachable(std::string("probe failed: ") + e.what());
    }
  }

 private:
  Fn fn_;
};

// One ZooKeeper session per probe, opened on first use and reopened when it expires or
// cannot reconnect; Reader() returns nullptr (with `why`) when no session can be had.
class ZnodeSession {
 public:
  explicit ZnodeSession(std::string connect) : connect_(std::move(connect)) {}
  ZkClient* Reader(std::chrono::milliseconds timeout, Status* why);

 private:
  std::string connect_;
  std::unique_ptr<ZkClient> client_;
};

// Finds the inventory host whose `var` equals `value`, else whose name or ansible_host
// equals `fallback_host`. "" when none.
std::string HostByVar(const Inventory& inventory, const std::string& var, const std::string& value,
                      const std::string& fallback_host = "");

}  // namespace faultline

// `faultline lab up|down|status`: a whole cluster on one machine.
//
// Every host is a network namespace on one bridge, with its own sshd (host key made for
// the lab, the lab's client key authorised), a faultline-supervisor running its services,
// a size-limited tmpfs as its data directory and a log file per service. The lab writes
// an Ansible inventory of itself, so drills reach it over real SSH as in production.
//
// Everything the lab makes is written to <state_dir>/state.json *before* it is made, so
// `lab down` can remove it all even after `lab up` crashed halfway; processes are ended
// by the PIDs (and start times) recorded there, then whatever still runs in the lab's
// namespaces. docs/lab.md describes the layout.
#pragma once

#include <chrono>
#include <string>

#include "base/status.h"
#include "lab/topology.h"

namespace faultline::lab {

struct LabConfig {
  LabTopology topology;
  std::string coord = "quorumd";  // quorumd | zookeeper
  std::string state_dir = "/run/faultline-lab";
  // How long `up` waits for every sshd and for the ensemble to elect a leader.
  std::chrono::seconds ready_timeout{120};
  // Services (not the ensemble) are only started when their program exists; false skips them.
  bool start_services = true;
};

struct UpResult {
  bool already_up = false;  // nothing was changed
  std::string summary;
};

// Builds the lab. kInvalid: not root, a package missing, a name, subnet or bridge in use;
// kUnavailable/kTimeout: something failed while building (what was made stays recorded:
// `lab down` removes it).
Status LabUp(const LabConfig& config, UpResult* result);

// Removes everything a lab (complete or not) made; succeeds when there is nothing.
Status LabDown(const std::string& state_dir, std::string* summary);

// Hosts, processes, roles; kNotFound when there is no lab.
Status LabStatus(const std::string& state_dir, std::string* text);

// The inventory the lab wrote.
std::string LabInventoryPath(const std::string& state_dir);

// Sends a ZooKeeper four-letter word and reads the whole answer.
Status FourLetterWord(const std::string& address, int port, const std::string& word, std::string* out,
                      std::chrono::milliseconds timeout);
// "leader", "follower", "standalone", "observer" from `srvr` output; "" if absent.
std::string ZkModeFromSrvr(const std::string& srvr);

}  // namespace faultline::lab

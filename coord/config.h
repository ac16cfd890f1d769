// zoo.cfg, read the way ZooKeeper's QuorumPeerConfig reads it: java-properties lines
// (key=value, '#' and '!' comments), known keys typed and checked, unknown keys kept and
// warned about but never fatal. `server.N=host:quorumPort:electionPort[:participant|
// :observer][;[clientHost:]clientPort]` lines describe the ensemble; `myid` is read from
// dataDir when there are any.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline::coord {

struct ServerSpec {
  int64_t id = 0;
  std::string host;
  int quorum_port = 0;
  int election_port = 0;
  bool observer = false;
  std::string client_host;  // empty when the line names no client address
  int client_port = -1;
};

struct Config {
  std::string path;
  int tick_time = 2000;
  int init_limit = 10;
  int sync_limit = 5;
  std::string data_dir;
  std::string data_log_dir;  // defaults to data_dir
  int client_port = 2181;
  std::string client_port_address;  // empty: all addresses
  int max_client_cnxns = 60;
  int min_session_timeout = -1;  // -1: 2 x tickTime
  int max_session_timeout = -1;  // -1: 20 x tickTime
  int client_port_listen_backlog = -1;
  std::set<std::string> four_letter_whitelist = {"srvr"};
  bool four_letter_all = false;
  std::map<int64_t, ServerSpec> servers;
  int64_t server_id = 0;
  int snap_count = 100000;
  int64_t prealloc_bytes = 64LL * 1024 * 1024;
  bool force_sync = true;
  int snap_retain_count = 3;
  int purge_interval_hours = 0;
  int election_alg = 3;
  // The AdminServer, as ZooKeeper's admin.* keys (zookeeper.admin.* properties) configure it:
  // on unless admin.enableServer is other than "true", 0.0.0.0:8080, commands under /commands.
  bool admin_enabled = true;
  std::string admin_address = "0.0.0.0";
  int admin_port = 8080;
  std::string admin_command_url = "/commands";
  // Every key=value line as written, for `conf` and for the ensemble.
  std::map<std::string, std::string> raw;
  std::vector<std::string> warnings;

  int MinSessionTimeout() const { return min_session_timeout > 0 ? min_session_timeout : 2 * tick_time; }
  int MaxSessionTimeout() const { return max_session_timeout > 0 ? max_session_timeout : 20 * tick_time; }
  bool FourLetterAllowed(const std::string& word) const {
    return four_letter_all || four_letter_whitelist.count(word) != 0;
  }
};

// Errors name path:line and what was expected.
Status ParseConfig(const std::string& path, Config* config);
Status ParseConfigText(const std::string& text, const std::string& path, Config* config);
Status ParseServerLine(const std::string& key, const std::string& value, ServerSpec* spec);

}  // namespace faultline::coord

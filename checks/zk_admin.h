// ZooKeeper's AdminServer (3.5+, on by default at port 8080): `GET <base>/<command>` answers one
// JSON object per command, with "command" and "error" beside the command's own fields. Read
// where a four-letter word is refused (3.5+ allows only srvr unless 4lw.commands.whitelist says
// otherwise) or where the inventory names the AdminServer (zookeeper_admin_url).
//
// Formats: zookeeper-server/src/main/java/org/apache/zookeeper/server/admin/Commands.java
// (command names, which need a serving server), JettyAdminServer.java (always HTTP 200, the
// failure in "error"), JsonOutputter.java; samples in tests/fixtures/zk/admin/.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "checks/zk_fourlw.h"

namespace faultline {

struct ZkAdminEndpoint {
  std::string base_url;  // "http://10.0.0.1:8080/commands", no trailing slash
  std::string ca_file;   // https: the CA bundle ("" = the system's)
};

// "http://<address>:<port>/commands" (an IPv6 address in brackets).
std::string ZkAdminBaseUrl(const std::string& address, int port);

// GET <base>/<command>. kOk with the JSON object whenever the AdminServer answered one (its
// "error" may still be set); kUnavailable or kTimeout naming the URL otherwise (refused, HTTP
// status other than 200, an answer that is not a JSON object).
Status ReadAdminCommand(const ZkAdminEndpoint& endpoint, const std::string& command,
                        std::chrono::milliseconds timeout, nlohmann::json* out);

// The answer of `srvr` (Commands.SrvrCommand, "server_stats"): mode from
// server_stats.server_state, zxid from server_stats.last_processed_zxid, node_count, outstanding
// requests, version. "This ZooKeeper instance is not currently serving requests" in "error" is
// serving = false; any other error, or a missing field, is kUnavailable naming it.
Status ParseAdminSrvr(const nlohmann::json& answer, ZkServerStatus* out);

// The answer of `monitor` (Commands.MonitorCommand) as `mntr` would print it: each field under
// its mntr name ("synced_followers" -> "zk_synced_followers"), numbers as ZooKeeper prints them.
// An answer with an error is kUnavailable with the server's message.
Status ParseAdminMonitor(const nlohmann::json& answer, std::map<std::string, std::string>* out);

}  // namespace faultline

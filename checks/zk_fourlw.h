// ZooKeeper's four-letter words over TCP (`srvr`, `mntr`, `ruok`, ...) and parsers for
// their output, as ZooKeeper 3.8 prints it (see tests/fixtures/zk/ for real samples).
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "base/status.h"

namespace faultline {

// Sends `word` to host:port and reads until the server closes the connection. kUnavailable
// when the connection is refused or reset, kTimeout when the deadline passes first.
Status SendFourLetterWord(const std::string& host, int port, const std::string& word,
                          std::chrono::milliseconds timeout, std::string* out);

struct ZkServerStatus {
  bool serving = false;   // false: "This ZooKeeper instance is not currently serving requests"
  std::string mode;       // leader, follower, observer, standalone ("" when not serving)
  long long znode_count = -1;
  long long outstanding = -1;
  long long zxid = -1;
  std::string version;
};

// Whether `answer` is ZooKeeper's refusal of `word` ("mntr is not executed because it is not in
// the whitelist.": zookeeper-server/src/main/java/org/apache/zookeeper/server/NIOServerCnxn.java
// and NettyServerCnxn.java, 3.5+), which a server sends for every word outside its
// 4lw.commands.whitelist (by default all but srvr).
bool FourLetterWordRefused(const std::string& word, const std::string& answer);
// "'mntr' is not in the server's 4lw.commands.whitelist": what a probe says of a refusal.
std::string FourLetterWordRefusal(const std::string& word);

// Parses `srvr` (or `stat`) output.
Status ParseSrvr(const std::string& text, ZkServerStatus* out);

// Parses `mntr` output into key -> value ("zk_server_state" -> "leader"). A server that is
// not serving answers with one sentence and yields an empty map.
std::map<std::string, std::string> ParseMntr(const std::string& text);

}  // namespace faultline

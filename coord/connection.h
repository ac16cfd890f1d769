// One client connection of the server (server.h). Owned by the server thread.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "coord/acl.h"

namespace faultline::coord {

struct Connection {
  struct Held {
    int64_t tag;          // the zxid that must be durable before these bytes leave
    std::string bytes;    // one framed packet
    int64_t received_ms;  // when the request came in; -1 for watch events
    // Ensemble: a write waiting for its commit holds its place (tag INT64_MAX) so nothing the
    // client asked later overtakes it; the commit fills it in.
    uint64_t seq = 0;
  };

  uint64_t id = 0;
  int fd = -1;
  std::string remote;     // "/127.0.0.1:40030", as ZooKeeper prints it
  std::string remote_ip;  // "127.0.0.1", for ip ACLs
  std::string in;
  std::string out;
  size_t out_off = 0;
  std::deque<Held> held;
  bool want_write = false;
  bool epoll_out = false;  // EPOLLOUT is registered for the socket (a send was cut short)
  bool connected = false;      // handshake done
  bool first_packet = true;    // a four-letter word can only come first
  bool close_after_flush = false;
  bool dead = false;
  int64_t session = 0;
  int32_t timeout = 0;
  std::vector<AuthId> auth;
  std::set<std::string> data_watches;
  std::set<std::string> child_watches;

  // For `cons` and `stat`.
  int64_t received = 0;
  int64_t sent = 0;
  int64_t established_ms = 0;
  std::string last_op = "NA";
  int32_t last_cxid = -1;
  int64_t last_zxid = -1;
  int64_t last_response_ms = 0;
  int64_t last_latency = 0;
  int64_t min_latency = -1;
  int64_t max_latency = 0;
  int64_t total_latency = 0;
  int64_t latency_count = 0;
  int64_t outstanding = 0;
};

}  // namespace faultline::coord

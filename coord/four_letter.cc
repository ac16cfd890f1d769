// The four-letter words, in ZooKeeper 3.8's output formats (compare
// tests/interop/fourletter_test.py against Apache ZooKeeper), and the allow-list.
#include <dirent.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "coord/ensemble.h"
#include "coord/log.h"
#include "coord/server.h"
#include "coord/wire.h"

namespace faultline::coord {

namespace {

// Java's Double.toString of a value rounded to 4 decimals, as ZooKeeper prints averages.
std::string JavaDouble(double v) {
  double r = std::round(v * 10000.0) / 10000.0;
  std::string s = fmt::format("{}", r);
  if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
  return s;
}

// The same rounding as a JSON number.
double Rounded(double v) { return std::round(v * 10000.0) / 10000.0; }

int64_t DirSize(const std::string& dir) {
  int64_t total = 0;
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    struct stat st;
    std::string p = dir + "/" + e->d_name;
    if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += st.st_size;
  }
  closedir(d);
  return total;
}

int64_t OpenFds() {
  int64_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;  // the directory handle itself
}

// What Java's InetAddress.getLocalHost().getCanonicalHostName() gives: the local host
// name resolved and looked up back.
std::string CanonicalHostName() {
  char host[256] = "";
  gethostname(host, sizeof host);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &res) != 0 || !res) return host;
  char name[NI_MAXHOST] = "";
  int rc = getnameinfo(res->ai_addr, res->ai_addrlen, name, sizeof name, nullptr, 0, NI_NAMEREQD);
  freeaddrinfo(res);
  return rc == 0 ? name : host;
}

}  // namespace

// mntr's and the AdminServer's monitor figures, in the order ZooKeeper 3.8's
// ZooKeeperServer.dumpMonitorValues and its metrics provider give them
// (zookeeper-server/src/main/java/org/apache/zookeeper/server/ZooKeeperServer.java).
nlohmann::ordered_json Server::MonitorValues() {
  size_t live = 0;
  for (const auto& [id, conn] : conns_) live += conn->dead ? 0 : 1;
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  auto kv = [&m](std::string_view k, const auto& v) { m[std::string(k)] = v; };
  double avg = latency_count_ ? static_cast<double>(total_latency_) / static_cast<double>(latency_count_) : 0.0;
  size_t watches = 0;
  for (const auto& [p, ids] : data_watches_) watches += ids.size();
  for (const auto& [p, ids] : child_watches_) watches += ids.size();
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  kv("version", kZooKeeperVersion);
  kv("server_state", ModeName());
  kv("ephemerals_count", tree_.ephemeral_count());
  kv("num_alive_connections", live);
  kv("avg_latency", Rounded(avg));
  kv("outstanding_requests", outstanding_);
  kv("znode_count", tree_.node_count() + 1);
  kv("global_sessions", sessions_.size());
  kv("non_mtls_remote_conn_count", 0);
  kv("last_client_response_size", last_response_size_);
  kv("packets_sent", packets_sent_);
  kv("packets_received", packets_received_);
  kv("max_client_response_size", max_response_size_);
  kv("connection_drop_probability", 0.0);
  kv("watch_count", watches);
  kv("auth_failed_count", auth_failed_);
  kv("min_latency", min_latency_ < 0 ? 0 : min_latency_);
  kv("max_file_descriptor_count", static_cast<int64_t>(rl.rlim_max));
  kv("approximate_data_size", tree_.approximate_data_size());
  kv("open_file_descriptor_count", OpenFds());
  kv("local_sessions", 0);
  kv("uptime", NowMs() - start_ms_);
  kv("max_latency", max_latency_);
  kv("outstanding_tls_handshake", 0);
  kv("min_client_response_size", min_response_size_);
  kv("non_mtls_local_conn_count", 0);
  zab::PeerStatus ps = ens_ ? ens_->Describe() : zab::PeerStatus{};
  kv("proposal_count", ps.proposal_count);
  kv("connection_rejected", connection_rejected_);
  kv("bytes_received_count", bytes_received_);
  kv("connection_request_count", connection_requests_);
  kv("unsuccessful_handshake", unsuccessful_handshakes_);
  kv("stale_sessions_expired", expired_sessions_);
  kv("snap_count", snapshots_taken_.load());
  kv("sync_processor_request_queued", txns_logged_);
  kv("looking_count", ps.looking_count);
  if (ensemble_mode_ && Leading()) {
    kv("learners", ps.learners);
    kv("synced_followers", ps.synced_followers);
    kv("synced_non_voting_followers", 0);
    kv("synced_observers", ps.synced_observers);
    kv("pending_syncs", ps.pending_syncs);
    kv("last_proposal_size", ps.last_proposal_size);
    kv("max_proposal_size", ps.max_proposal_size);
    kv("min_proposal_size", ps.min_proposal_size);
  }
  if (ensemble_mode_) {
    kv("peer_state", ps.peer_state);
    // As ZooKeeper's: the number of voting members, not the majority of them.
    size_t voters = 0;
    for (const auto& [id, spec] : config_.servers) voters += spec.observer ? 0 : 1;
    kv("quorum_size", voters);
    kv("diff_count", ps.diff_count);
    kv("commit_count", ps.commit_count);
    if (Leading()) kv("leader_uptime", ps.leader_uptime_ms < 0 ? 0 : ps.leader_uptime_ms);
    kv("learner_proposal_received_count", ps.learner_proposal_received_count);
    kv("learner_commit_received_count", ps.learner_commit_received_count);
  }
  int64_t fsyncs = log_ ? log_->fsync_count() : (ens_ ? ens_->fsync_count() : 0);
  auto summary = [&](std::string_view name, double avgv, int64_t minv, int64_t maxv, int64_t cnt, int64_t sum) {
    kv(fmt::format("avg_{}", name), Rounded(avgv));
    kv(fmt::format("min_{}", name), minv);
    kv(fmt::format("max_{}", name), maxv);
    kv(fmt::format("cnt_{}", name), cnt);
    kv(fmt::format("sum_{}", name), sum);
  };
  int64_t fsync_us = log_ ? log_->fsync_micros_total() : 0;
  int64_t fsync_ms_total = fsync_us / 1000;
  summary("fsynctime", fsyncs && log_ ? static_cast<double>(fsync_us) / 1000.0 / static_cast<double>(fsyncs) : 0.0,
          0, log_ ? log_->fsync_micros_max() / 1000 : 0, fsyncs, fsync_ms_total);
  int64_t snaps = snapshots_taken_.load();
  summary("snapshottime", static_cast<double>(last_snapshot_ms_.load()), 0, last_snapshot_ms_.load(), snaps,
          last_snapshot_ms_.load() * snaps);
  if (ensemble_mode_) {
    auto once = [&](std::string_view name, int64_t v) {
      if (v < 0) return summary(name, 0.0, 0, 0, 0, 0);
      summary(name, static_cast<double>(v), v, v, 1, v);
    };
    once("election_time", ps.last_election_ms);
    if (!Leading()) once("follower_sync_time", ps.last_sync_ms);
  }
  summary("dbinittime", static_cast<double>(startup_ms_), startup_ms_, startup_ms_, 1, startup_ms_);
  summary("startup_snap_load_time", static_cast<double>(recovery_.snapshot_millis), recovery_.snapshot_millis,
          recovery_.snapshot_millis, 1, recovery_.snapshot_millis);
  summary("startup_txns_loaded", static_cast<double>(recovery_.replayed), recovery_.replayed, recovery_.replayed, 1,
          recovery_.replayed);
  summary("startup_txns_load_time", static_cast<double>(recovery_.replay_millis), recovery_.replay_millis,
          recovery_.replay_millis, 1, recovery_.replay_millis);
  return m;
}

// The AdminServer's srvr (server_stats) answer, and stat's with the connections, in ZooKeeper
// 3.8's shape: Commands.SrvrCommand/StatCommand over ServerStats, BufferStats and
// ServerCnxn.getConnectionInfo(brief) (zookeeper-server/src/main/java/org/apache/zookeeper/
// server/admin/Commands.java, server/ServerStats.java); compare
// ../shared/reference/zookeeper-3.8-admin/zk-3.8.0-adminserver-srvr.json.
nlohmann::ordered_json Server::ServerStatsValues(bool with_connections) {
  using J = nlohmann::ordered_json;
  size_t live = 0;
  for (const auto& [id, conn] : conns_) live += conn->dead ? 0 : 1;
  double avg = latency_count_ ? static_cast<double>(total_latency_) / static_cast<double>(latency_count_) : 0.0;
  auto buffers = [](int64_t last, int64_t min, int64_t max) {
    J b = J::object();
    b["last_buffer_size"] = last;
    b["min_buffer_size"] = min;
    b["max_buffer_size"] = max;
    return b;
  };
  J stats = J::object();
  stats["packets_sent"] = packets_sent_;
  stats["packets_received"] = packets_received_;
  stats["fsync_threshold_exceed_count"] = 0;
  stats["client_response_stats"] = buffers(last_response_size_, min_response_size_, max_response_size_);
  stats["data_dir_size"] = DirSize(log_dir_);
  stats["log_dir_size"] = DirSize(log_dir_);
  stats["provider_null"] = false;
  stats["server_state"] = ModeName();
  stats["last_processed_zxid"] = tree_.last_zxid();
  stats["outstanding_requests"] = outstanding_;
  stats["avg_latency"] = Rounded(avg);
  stats["max_latency"] = max_latency_;
  stats["min_latency"] = min_latency_ < 0 ? 0 : min_latency_;
  stats["num_alive_client_connections"] = live;
  stats["uptime"] = NowMs() - start_ms_;
  stats["auth_failed_count"] = auth_failed_;
  stats["non_mtlsremote_conn_count"] = 0;
  stats["non_mtlslocal_conn_count"] = 0;
  J m = J::object();
  m["version"] = kZooKeeperVersion;
  m["read_only"] = false;
  m["server_stats"] = stats;
  m["client_response"] = buffers(last_response_size_, min_response_size_, max_response_size_);
  if (ensemble_mode_ && Leading()) {
    zab::PeerStatus ps = ens_ ? ens_->Describe() : zab::PeerStatus{};
    m["proposal_stats"] = buffers(ps.last_proposal_size, ps.min_proposal_size, ps.max_proposal_size);
  }
  m["node_count"] = tree_.node_count() + 1;
  if (with_connections) {
    J conns = J::array();
    for (const auto& [id, k] : conns_) {
      if (k->dead) continue;
      J info = J::object();
      // Jackson writes an InetSocketAddress as host:port, without Java's leading '/'.
      info["remote_socket_address"] = k->remote.rfind('/', 0) == 0 ? k->remote.substr(1) : k->remote;
      info["interest_ops"] = 1;  // OP_READ: a connection waiting for requests
      info["outstanding_requests"] = k->outstanding;
      info["packets_received"] = k->received;
      info["packets_sent"] = k->sent;
      conns.push_back(std::move(info));
    }
    m["connections"] = std::move(conns);
    m["secure_connections"] = J::array();
  }
  return m;
}

void Server::HandleFourLetter(Connection* c, const std::string& word) {
  packets_received_++;
  c->received++;
  std::string out;
  auto line = [&out](std::string_view k, const auto& v) { out += fmt::format("{}={}\n", k, v); };
  auto latency_line = [&] {
    double avg = latency_count_ ? static_cast<double>(total_latency_) / static_cast<double>(latency_count_) : 0.0;
    return fmt::format("Latency min/avg/max: {}/{}/{}\n", min_latency_ < 0 ? 0 : min_latency_, JavaDouble(avg),
                       max_latency_);
  };
  size_t live = 0;
  for (const auto& [id, conn] : conns_) live += conn->dead ? 0 : 1;
  auto conn_line = [&](const Connection& k, bool brief) {
    std::string s = fmt::format(" {}[{}](queued={},recved={},sent={}", k.remote, k.connected ? 1 : 0,
                                k.outstanding, k.received, k.sent);
    if (!brief && k.session != 0) {
      double avg = k.latency_count ? static_cast<double>(k.total_latency) / static_cast<double>(k.latency_count) : 0.0;
      s += fmt::format(",sid=0x{:x},lop={},est={},to={}", static_cast<uint64_t>(k.session), k.last_op,
                       k.established_ms, k.timeout);
      if (k.last_cxid >= 0) s += fmt::format(",lcxid=0x{:x}", k.last_cxid);
      s += fmt::format(",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                       static_cast<uint64_t>(k.last_zxid), k.last_response_ms, k.last_latency,
                       k.min_latency < 0 ? 0 : k.min_latency, JavaDouble(avg), k.max_latency);
    }
    return s + ")\n";
  };
  auto server_lines = [&] {
    return latency_line() + fmt::format("Received: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\n"
                                        "Mode: {}\nNode count: {}\n",
                                        packets_received_, packets_sent_, live, outstanding_,
                                        static_cast<uint64_t>(tree_.last_zxid()), ModeName(), tree_.node_count() + 1);
  };
  // As ZooKeeper: while an ensemble member is not serving, the words that describe a running
  // server say so and nothing else.
  const bool not_serving = ensemble_mode_ && !serving_ && word != "ruok" && word != "conf" && word != "envi" &&
                           word != "isro" && word != "dirs";
  if (!config_.FourLetterAllowed(word)) {
    out = word + " is not executed because it is not in the whitelist.\n";
  } else if (not_serving) {
    out = "This ZooKeeper instance is not currently serving requests\n";
  } else if (word == "ruok") {
    out = "imok";
  } else if (word == "isro") {
    out = "rw";
  } else if (word == "srvr") {
    out = fmt::format("Zookeeper version: {}\n", kZooKeeperVersion) + server_lines();
  } else if (word == "stat") {
    out = fmt::format("Zookeeper version: {}\nClients:\n", kZooKeeperVersion);
    for (const auto& [id, k] : conns_) {
      if (!k->dead) out += conn_line(*k, true);
    }
    out += "\n" + server_lines();
  } else if (word == "cons") {
    for (const auto& [id, k] : conns_) {
      if (!k->dead) out += conn_line(*k, false);
    }
    out += "\n";
  } else if (word == "crst") {
    for (auto& [id, k] : conns_) {
      k->received = k->sent = 0;
      k->min_latency = -1;
      k->max_latency = k->total_latency = k->latency_count = k->last_latency = 0;
    }
    out = "Connection stats reset.\n";
  } else if (word == "srst") {
    packets_received_ = packets_sent_ = 0;
    min_latency_ = -1;
    max_latency_ = total_latency_ = latency_count_ = 0;
    out = "Server stats reset.\n";
  } else if (word == "conf") {
    line("clientPort", config_.client_port);
    line("secureClientPort", -1);
    line("dataDir", log_dir_);
    line("dataDirSize", DirSize(log_dir_));
    line("dataLogDir", log_dir_);
    line("dataLogSize", DirSize(log_dir_));
    line("tickTime", config_.tick_time);
    line("maxClientCnxns", config_.max_client_cnxns);
    line("minSessionTimeout", config_.MinSessionTimeout());
    line("maxSessionTimeout", config_.MaxSessionTimeout());
    line("clientPortListenBacklog", config_.client_port_listen_backlog);
    line("serverId", config_.server_id);
  } else if (word == "envi") {
    utsname u{};
    uname(&u);
    char cwd[4096] = "";
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    out = "Environment:\n";
    line("zookeeper.version", kZooKeeperVersion);
    passwd* pw = getpwuid(getuid());
    line("host.name", CanonicalHostName());
    line("os.name", u.sysname);
    line("os.arch", std::string_view(u.machine) == "x86_64" ? "amd64" : u.machine);  // as Java names it
    line("os.version", u.release);
    line("user.name", pw ? pw->pw_name : "");
    line("user.home", pw ? pw->pw_dir : "");
    line("user.dir", cwd);
  } else if (word == "dirs") {
    out = fmt::format("datadir_size: {}\nlogdir_size: {}\n", DirSize(log_dir_), DirSize(log_dir_));
  } else if (word == "wchs" || word == "wchc" || word == "wchp") {
    // ZooKeeper reports data (and exists) watches here, not child watches.
    size_t total = 0, watching = 0;
    for (const auto& [id, k] : conns_) {
      total += k->data_watches.size();
      watching += k->data_watches.empty() ? 0 : 1;
    }
    std::set<std::string> paths;
    for (const auto& [p, ids] : data_watches_) paths.insert(p);
    if (word == "wchs") {
      out = fmt::format("{} connections watching {} paths\nTotal watches:{}\n", watching, paths.size(), total);
    } else if (word == "wchc") {
      for (const auto& [id, k] : conns_) {
        if (k->session == 0 || k->data_watches.empty()) continue;
        out += fmt::format("0x{:x}\n", static_cast<uint64_t>(k->session));
        for (const auto& p : k->data_watches) out += "\t" + p + "\n";
      }
      out += "\n";
    } else {
      for (const auto& p : paths) {
        out += p + "\n";
        for (uint64_t id : data_watches_.at(p)) {
          auto cit = conns_.find(id);
          if (cit != conns_.end()) out += fmt::format("\t0x{:x}\n", static_cast<uint64_t>(cit->second->session));
        }
      }
      out += "\n";
    }
  } else if (word == "dump") {
    out = fmt::format("SessionTracker dump:\nGlobal Sessions({}):\n", sessions_.size());
    for (const auto& [id, s] : sessions_) out += fmt::format("0x{:x}\t{}ms\n", static_cast<uint64_t>(id), s.timeout);
    out += "ephemeral nodes dump:\n";
    out += fmt::format("Sessions with Ephemerals ({}):\n", tree_.ephemerals().size());
    for (const auto& [id, paths] : tree_.ephemerals()) {
      out += fmt::format("0x{:x}:\n", static_cast<uint64_t>(id));
      for (const auto& p : paths) out += "\t" + p + "\n";
    }
  } else if (word == "mntr") {
    const nlohmann::ordered_json values = MonitorValues();
    for (const auto& [k, v] : values.items()) {
      out += fmt::format("zk_{}\t{}\n", k, v.is_string() ? v.get<std::string>()
                                         : v.is_number_float() ? JavaDouble(v.get<double>()) : v.dump());
    }
  }
  c->sent++;
  packets_sent_++;
  c->out += out;
  c->want_write = true;
  c->close_after_flush = true;
}

}  // namespace faultline::coord

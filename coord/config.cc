#include "coord/config.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace faultline::coord {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool ParseInt(const std::string& s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

// Keys ZooKeeper knows that quorumd accepts without acting on them.
const std::set<std::string> kAcceptedKeys = {
    "admin.idleTimeout", "admin.httpVersion", "admin.portUnification", "admin.forceHttps",
    "admin.needClientAuth", "standaloneEnabled", "reconfigEnabled", "quorumListenOnAllIPs", "secureClientPort",
    "secureClientPortAddress", "dynamicConfigFile", "peerType", "syncEnabled",
    "metricsProvider.className", "metricsProvider.httpPort", "jute.maxbuffer",
    "globalOutstandingLimit", "leaderServes", "cnxTimeout", "autopurge.snapRetainCount",
    "autopurge.purgeInterval", "snapCount", "preAllocSize", "forceSync", "electionAlg",
    "electionPortBindRetry", "maxSessionTimeout", "minSessionTimeout", "maxClientCnxns",
    "clientPortListenBacklog", "initLimit", "syncLimit", "tickTime", "dataDir", "dataLogDir",
    "clientPort", "clientPortAddress", "4lw.commands.whitelist", "quorum.auth.enableSasl",
    "sslQuorum", "portUnification", "serverCnxnFactory", "connectToLearnerMasterLimit",
    "multiAddress.enabled", "localSessionsEnabled", "localSessionsUpgradingEnabled",
    "snapSizeLimitInKb", "txnLogSizeLimitInKb", "maxResponseCacheSize", "enforce.auth.enabled"};

}  // namespace

Status ParseServerLine(const std::string& key, const std::string& value, ServerSpec* spec) {
  int64_t id = 0;
  if (!ParseInt(key.substr(7), &id) || id < 0) {
    return Status::Invalid(fmt::format("'{}': expected server.N with a numeric N", key));
  }
  spec->id = id;
  std::string addr = value;
  std::string client;
  size_t semi = value.find(';');
  if (semi != std::string::npos) {
    addr = value.substr(0, semi);
    client = value.substr(semi + 1);
  }
  std::vector<std::string> parts = Split(addr, ':');
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty()) {
    return Status::Invalid(fmt::format("'{}={}': expected host:quorumPort:electionPort[:participant|:observer]",
                                       key, value));
  }
  spec->host = parts[0];
  int64_t qp = 0, ep = 0;
  if (!ParseInt(parts[1], &qp) || qp <= 0 || qp > 65535 || !ParseInt(parts[2], &ep) || ep <= 0 || ep > 65535) {
    return Status::Invalid(fmt::format("'{}={}': ports must be numbers in 1..65535", key, value));
  }
  spec->quorum_port = static_cast<int>(qp);
  spec->election_port = static_cast<int>(ep);
  if (parts.size() == 4) {
    if (parts[3] == "observer") {
      spec->observer = true;
    } else if (parts[3] != "participant") {
      return Status::Invalid(fmt::format("'{}={}': role must be participant or observer, not '{}'", key,
                                         value, parts[3]));
    }
  }
  if (!client.empty()) {
    std::string port = client;
    size_t colon = client.rfind(':');
    if (colon != std::string::npos) {
      spec->client_host = client.substr(0, colon);
      port = client.substr(colon + 1);
    }
    int64_t cp = 0;
    if (!ParseInt(port, &cp) || cp <= 0 || cp > 65535) {
      return Status::Invalid(fmt::format("'{}={}': client port must be a number in 1..65535", key, value));
    }
    spec->client_port = static_cast<int>(cp);
  }
  return Status::Ok();
}

Status ParseConfigText(const std::string& text, const std::string& path, Config* c) {
  c->path = path;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos) eq = t.find(':');
    if (eq == std::string::npos) {
      return Status::Invalid(fmt::format("{}:{}:1: expected key=value, got '{}'", path, lineno, t));
    }
    std::string key = Trim(t.substr(0, eq));
    std::string value = Trim(t.substr(eq + 1));
    c->raw[key] = value;
    std::string where = fmt::format("{}:{}:{}", path, lineno, eq + 2);
    auto int_key = [&](int64_t lo, int64_t hi, int64_t* out) -> Status {
      if (!ParseInt(value, out) || *out < lo || *out > hi) {
        return Status::Invalid(fmt::format("{}: {} must be an integer in {}..{}, got '{}'", where, key, lo, hi,
                                           value));
      }
      return Status::Ok();
    };
    int64_t v = 0;
    if (key == "tickTime") {
      FAULTLINE_RETURN_IF_ERROR(int_key(1, 3600000, &v));
      c->tick_time = static_cast<int>(v);
    } else if (key == "initLimit") {
      FAULTLINE_RETURN_IF_ERROR(int_key(1, 1000000, &v));
      c->init_limit = static_cast<int>(v);
    } else if (key == "syncLimit") {
      FAULTLINE_RETURN_IF_ERROR(int_key(1, 1000000, &v));
      c->sync_limit = static_cast<int>(v);
    } else if (key == "dataDir") {
      c->data_dir = value;
    } else if (key == "dataLogDir") {
      c->data_log_dir = value;
    } else if (key == "clientPort") {
      FAULTLINE_RETURN_IF_ERROR(int_key(0, 65535, &v));
      c->client_port = static_cast<int>(v);
    } else if (key == "clientPortAddress") {
      c->client_port_address = value;
    } else if (key == "maxClientCnxns") {
      FAULTLINE_RETURN_IF_ERROR(int_key(0, 1000000, &v));
      c->max_client_cnxns = static_cast<int>(v);
    } else if (key == "minSessionTimeout") {
      FAULTLINE_RETURN_IF_ERROR(int_key(-1, INT32_MAX, &v));
      c->min_session_timeout = static_cast<int>(v);
    } else if (key == "maxSessionTimeout") {
      FAULTLINE_RETURN_IF_ERROR(int_key(-1, INT32_MAX, &v));
      c->max_session_timeout = static_cast<int>(v);
    } else if (key == "clientPortListenBacklog") {
      FAULTLINE_RETURN_IF_ERROR(int_key(-1, 65535, &v));
      c->client_port_listen_backlog = static_cast<int>(v);
    } else if (key == "4lw.commands.whitelist") {
      c->four_letter_whitelist.clear();
      c->four_letter_all = false;
      for (const auto& w : Split(value, ',')) {
        std::string word = Trim(w);
        if (word == "*") c->four_letter_all = true;
        if (!word.empty()) c->four_letter_whitelist.insert(word);
      }
    } else if (key == "admin.enableServer") {
      c->admin_enabled = value == "true";  // as AdminServerFactory compares it
    } else if (key == "admin.serverAddress") {
      c->admin_address = value;
    } else if (key == "admin.serverPort") {
      FAULTLINE_RETURN_IF_ERROR(int_key(0, 65535, &v));
      c->admin_port = static_cast<int>(v);
    } else if (key == "admin.commandURL") {
      if (value.empty() || value[0] != '/') {
        return Status::Invalid(fmt::format("{}: admin.commandURL must be a path starting with '/', got '{}'", where,
                                           value));
      }
      c->admin_command_url = value.size() > 1 && value.back() == '/' ? value.substr(0, value.size() - 1) : value;
    } else if (key == "snapCount") {
      FAULTLINE_RETURN_IF_ERROR(int_key(2, INT32_MAX, &v));
      c->snap_count = static_cast<int>(v);
    } else if (key == "preAllocSize") {  // kilobytes, as zookeeper.preAllocSize
      FAULTLINE_RETURN_IF_ERROR(int_key(4, 1LL << 30, &v));
      c->prealloc_bytes = v * 1024;
    } else if (key == "forceSync") {
      c->force_sync = value != "no";
    } else if (key == "autopurge.snapRetainCount") {
      FAULTLINE_RETURN_IF_ERROR(int_key(3, 1000000, &v));
      c->snap_retain_count = static_cast<int>(v);
    } else if (key == "autopurge.purgeInterval") {
      FAULTLINE_RETURN_IF_ERROR(int_key(0, 1000000, &v));
      c->purge_interval_hours = static_cast<int>(v);
    } else if (key == "electionAlg") {
      FAULTLINE_RETURN_IF_ERROR(int_key(0, 3, &v));
      c->election_alg = static_cast<int>(v);
    } else if (key.rfind("server.", 0) == 0) {
      ServerSpec spec;
      Status st = ParseServerLine(key, value, &spec);
      if (!st.ok()) return Status::Invalid(fmt::format("{}: {}", where, st.message()));
      c->servers[spec.id] = spec;
    } else if (key.rfind("group.", 0) == 0 || key.rfind("weight.", 0) == 0 ||
               key.rfind("ssl.", 0) == 0 || key.rfind("zookeeper.", 0) == 0 || kAcceptedKeys.count(key)) {
      // Known to ZooKeeper; quorumd has nothing to do with it.
    } else {
      c->warnings.push_back(fmt::format("{}: unknown key '{}' ignored", where, key));
    }
  }
  if (c->data_dir.empty()) return Status::Invalid(fmt::format("{}: dataDir is not set", path));
  if (c->data_log_dir.empty()) c->data_log_dir = c->data_dir;
  if (c->MinSessionTimeout() > c->MaxSessionTimeout()) {
    return Status::Invalid(fmt::format("{}: minSessionTimeout {} is greater than maxSessionTimeout {}", path,
                                       c->MinSessionTimeout(), c->MaxSessionTimeout()));
  }
  if (!c->servers.empty()) {
    std::ifstream myid(c->data_dir + "/myid");
    std::string s;
    if (myid && std::getline(myid, s)) {
      int64_t id = 0;
      if (!ParseInt(Trim(s), &id)) {
        return Status::Invalid(fmt::format("{}/myid: expected a server id, got '{}'", c->data_dir, s));
      }
      c->server_id = id;
    }
  }
  return Status::Ok();
}

Status ParseConfig(const std::string& path, Config* config) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("{}: cannot read the configuration file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path, config);
}

}  // namespace faultline::coord

// HBase stand-ins: HMaster (active/backup through <parent>/master and backup-masters),
// RegionServers (ephemerals under <parent>/rs), a region assignment table the master keeps
// in ZooKeeper (see checks/hbase_znodes.h), reassignment when a RegionServer's session
// expires, and a put/get data path through the RegionServer holding the row's region.
//
// Region data lives in a directory every RegionServer shares (the lab's HDFS): a region
// reopened elsewhere after a crash still has its rows.
//
// The master's info server (--info-port, hbase.master.info.port, 16010) serves GET /jmx with
// the two beans the probes read, in the JMX servlet's shape (see checks/hbase_jmx.h):
// Master,sub=Server on every master, Master,sub=AssignmentManager on the active one only.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "checks/hbase_jmx.h"
#include "checks/hbase_znodes.h"
#include "services/common.h"
#include "services/services.h"

namespace faultline::svc {
namespace {

constexpr const char* kMaster = "org.apache.hadoop.hbase.master.HMaster";
constexpr const char* kAm = "org.apache.hadoop.hbase.master.assignment.AssignmentManager";
constexpr const char* kScp = "org.apache.hadoop.hbase.master.procedure.ServerCrashProcedure";
constexpr const char* kRs = "org.apache.hadoop.hbase.regionserver.HRegionServer";
constexpr const char* kTable = "usertable";

// A stable hex name per region, like HBase's encoded region name (an MD5 there).
std::string EncodedName(const std::string& table, const std::string& start_key) {
  unsigned long long h1 = 1469598103934665603ULL, h2 = 1099511628211ULL * 31;
  for (char c : table + "," + start_key + ",") {
    h1 = (h1 ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    h2 = (h2 ^ static_cast<unsigned char>(c)) * 14029467366897019727ULL;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", h1, h2);
  return buf;
}

// Region boundaries: N regions split on the first hex digit of the row's hash.
std::vector<std::string> StartKeys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02x", i * 256 / n);
    keys.push_back(i == 0 ? "" : buf);
  }
  return keys;
}

std::string RowBucket(const std::string& row) {
  unsigned h = 2166136261u;
  for (char c : row) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", h & 0xff);
  return buf;
}

std::vector<RegionAssignment> ReadAssignments(ZkClient& zk, const std::string& parent, bool* ok,
                                              std::map<std::string, int>* versions = nullptr) {
  std::vector<RegionAssignment> out;
  std::vector<std::string> names;
  std::string dir = HBaseAssignmentDir(parent);
  ZkError e = zk.Children(dir, &names);
  *ok = e == ZkError::kOk || e == ZkError::kNoNode;
  if (e != ZkError::kOk) return out;
  for (const auto& n : names) {
    std::string data;
    ZkStat st;
    if (zk.Get(dir + "/" + n, &data, &st) != ZkError::kOk) {
      *ok = false;
      continue;
    }
    RegionAssignment a;
    if (RegionAssignment::FromJson(data, &a)) {
      out.push_back(a);
      if (versions) (*versions)[a.region] = st.version;
    }
  }
  return out;
}

const RegionAssignment* RegionForRow(const std::vector<RegionAssignment>& regions, const std::string& row) {
  std::string bucket = RowBucket(row);
  const RegionAssignment* best = nullptr;
  for (const auto& r : regions) {
    if (r.start_key <= bucket && (!best || r.start_key > best->start_key)) best = &r;
  }
  return best;
}

// The JMX servlet's answer to `qry`: every bean for none or "*:*", the beans whose name starts
// with what precedes a trailing '*', else the bean of that exact name; no match is an empty
// list (hbase-http/.../util/JSONBean.java).
HttpResponse JmxAnswer(const std::vector<nlohmann::ordered_json>& beans, const std::string& qry) {
  nlohmann::ordered_json matched = nlohmann::ordered_json::array();
  for (const auto& b : beans) {
    const std::string name = b["name"];
    bool match = qry.empty() || qry == "*:*" ||
                 (qry.back() == '*' ? name.rfind(qry.substr(0, qry.size() - 1), 0) == 0 : name == qry);
    if (match) matched.push_back(b);
  }
  nlohmann::ordered_json answer;
  answer["beans"] = matched;
  HttpResponse r;
  r.content_type = "application/json; charset=utf8";
  r.body = answer.dump(2) + "\n";
  return r;
}

std::string JoinServers(const std::set<std::string>& servers) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ";") + s;
  return out;
}

void Abort(const std::string& logger, const std::string& what, const std::string& sn, const std::string& reason,
           const std::string& cause = "org.apache.zookeeper.KeeperException$SessionExpiredException: "
                                      "KeeperErrorCode = Session expired") {
  Log::Get().Error(logger, "***** ABORTING " + what + " " + sn + ": " + reason + " *****");
  if (!cause.empty()) Log::Get().Error(logger, cause);
  std::_Exit(1);
}

}  // namespace

int RunHMaster(const Flags& f) {
  ServerName me;
  me.host = f.Require("host");
  me.port = f.GetInt("port", 0);
  me.start_code = static_cast<uint64_t>(NowMs());
  std::string parent = f.Get("parent", "/hbase");
  int regions = f.GetInt("regions", 8);
  int session_ms = f.GetInt("session-timeout", 5000);
  std::string bind = f.Get("bind", "127.0.0.1");
  int info_port = f.GetInt("info-port", kHBaseMasterInfoPort);
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();
  const std::string sn = me.ToString();
  const std::string ident = "master:" + std::to_string(me.port);

  Session session(f.Require("zk"), session_ms, kMaster);
  session.on_disconnected = [&] { Log::Get().Warn(kMaster, ident + " received disconnected from ZooKeeper (ConnectionLoss)"); };
  Status st = session.Start(std::chrono::milliseconds(session_ms * 3));
  if (!st.ok()) {
    Log::Get().Error(kMaster, "Failed construction of Master: " + st.message());
    return 3;
  }
  ZkClient& zk = session.zk();
  for (const auto& p : {parent, parent + "/rs", parent + "/backup-masters", HBaseAssignmentDir(parent)}) {
    zk.EnsurePath(p);
  }

  std::mutex mu;
  bool active = false;
  bool table_read = false;  // the active master has read the assignment once
  std::set<std::string> live, dead;
  std::vector<RegionAssignment> table;
  HttpServer info;
  st = info.Start(bind, info_port, [&](const HttpRequest& r) {
    if (r.path != "/jmx") return HttpResponse::Json({{"error", "no such resource"}}, 404);
    std::lock_guard<std::mutex> lock(mu);
    std::vector<nlohmann::ordered_json> beans;
    // MetricsMasterSourceImpl.getMetrics; a backup master has no ServerManager, so its lists
    // are empty and its counts 0 (MetricsMasterWrapperImpl).
    nlohmann::ordered_json server;
    server["name"] = kHBaseMasterServerBean;
    server["modelerType"] = "Master,sub=Server";
    server["tag.liveRegionServers"] = active ? JoinServers(live) : "";
    server["tag.deadRegionServers"] = active ? JoinServers(dead) : "";
    server["tag.drainingRegionServers"] = "";
    server["tag.zookeeperQuorum"] = f.Get("zk");
    server["tag.serverName"] = sn;
    server["tag.isActiveMaster"] = active ? "true" : "false";
    server["tag.Context"] = "master";
    server["tag.Hostname"] = me.host;
    server["masterStartTime"] = me.start_code;
    server["numRegionServers"] = active ? live.size() : 0;
    server["numDeadRegionServers"] = active ? dead.size() : 0;
    server["numDrainingRegionServers"] = 0;
    beans.push_back(server);
    if (active && table_read) {
      // MetricsAssignmentManagerSource: registered by the AssignmentManager, which only the
      // active master has. In transition: any region not OPEN on a live server.
      int rit = 0;
      for (const auto& a : table) {
        if (a.state != "OPEN" || !live.count(a.server)) ++rit;
      }
      nlohmann::ordered_json am;
      am["name"] = kHBaseAssignmentManagerBean;
      am["modelerType"] = "Master,sub=AssignmentManager";
      am["tag.Context"] = "master";
      am["tag.Hostname"] = me.host;
      am["ritCountOverThreshold"] = 0;
      am["ritCount"] = rit;
      beans.push_back(am);
    }
    return JmxAnswer(beans, r.query.count("qry") ? r.query.at("qry") : "");
  });
  if (!st.ok()) {
    std::fprintf(stderr, "fl-svc hmaster: info server: %s\n", st.message().c_str());
    return 3;
  }
  HttpServer http;
  st = http.Start(bind, me.port, [&](const HttpRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    nlohmann::json regions_json = nlohmann::json::array();
    for (const auto& r : table) regions_json.push_back(r.ToJson());
    return HttpResponse::Json({{"serverName", sn}, {"active", active}, {"liveServers", live},
                               {"deadServers", dead}, {"regions", regions_json}});
  });
  if (!st.ok()) {
    std::fprintf(stderr, "fl-svc hmaster: %s\n", st.message().c_str());
    return 3;
  }
  std::string data = EncodeHBaseMaster(me, info_port, ident);
  zk.Create(parent + "/backup-masters/" + sn, data, true);
  Log::Get().Info(kMaster, "Adding backup master ZNode " + parent + "/backup-masters/" + sn);
  bool announced_backup = false;
  int pid = 1;
  while (!g_stop) {
    SleepMs(100);
    if (session.expired()) {
      Abort(kMaster, "master", sn, ident + "-" + Hex(zk.session_id()) + " received expired from ZooKeeper, aborting");
    }
    if (!session.connected()) continue;
    if (!active) {
      ZkError e = zk.Create(parent + "/master", data, true);
      if (e == ZkError::kNodeExists) {
        if (!announced_backup) {
          std::string cur;
          ServerName other;
          if (zk.Get(parent + "/master", &cur) == ZkError::kOk && DecodeHBaseMaster(cur, &other).ok()) {
            Log::Get().Info("org.apache.hadoop.hbase.master.ActiveMasterManager",
                            "Another master is the active master, " + other.ToString() +
                                "; waiting to become the next active master");
          }
          announced_backup = true;
        }
        continue;
      }
      if (e != ZkError::kOk) continue;
      Log::Get().Info("org.apache.hadoop.hbase.master.ActiveMasterManager",
                      "Deleting ZNode for " + parent + "/backup-masters/" + sn + " from backup master directory");
      zk.Delete(parent + "/backup-masters/" + sn);
      Log::Get().Info("org.apache.hadoop.hbase.master.ActiveMasterManager", "Registered as active master=" + sn);
      // The assignment survives a master failover: it is read back, never rebuilt.
      bool ok = false;
      auto existing = ReadAssignments(zk, parent, &ok);
      std::set<std::string> have;
      for (const auto& r : existing) have.insert(r.start_key);
      for (const auto& key : StartKeys(regions)) {
        if (have.count(key)) continue;
        RegionAssignment r{EncodedName(kTable, key), kTable, key, "", "OFFLINE"};
        zk.Create(HBaseAssignmentDir(parent) + "/" + r.region, r.ToJson().dump(), false);
      }
      std::vector<std::string> rs;
      zk.Children(parent + "/rs", &rs);
      {
        std::lock_guard<std::mutex> lock(mu);
        active = true;
        // Servers that held regions but are gone now died while no master watched.
        live = std::set<std::string>(rs.begin(), rs.end());
        for (const auto& r : existing) {
          if (!r.server.empty()) live.insert(r.server);
        }
      }
      Log::Get().Info(kMaster, "Master has completed initialization");
      continue;
    }
    // Active: keep the lock, watch the RegionServers, assign.
    ZkStat mst;
    ZkError me = zk.Exists(parent + "/master", &mst);
    if (me == ZkError::kNoNode || (me == ZkError::kOk && mst.ephemeral_owner != zk.session_id())) {
      Abort(kMaster, "master", sn, "Master lost its znode " + parent + "/master", "");
    }
    if (me != ZkError::kOk) continue;  // connection loss: change nothing until ZooKeeper answers
    std::vector<std::string> rs;
    if (zk.Children(parent + "/rs", &rs) != ZkError::kOk) continue;
    std::set<std::string> now(rs.begin(), rs.end());
    std::map<std::string, int> versions;
    bool ok = false;
    auto assignments = ReadAssignments(zk, parent, &ok, &versions);
    if (!ok) continue;
    std::set<std::string> gone;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& s : live) {
        if (!now.count(s)) gone.insert(s);
      }
      for (const auto& s : now) {
        if (live.count(s)) continue;
        Log::Get().Info("org.apache.hadoop.hbase.master.ServerManager", "Registering regionserver=" + s);
        // DeadServer.cleanPreviousInstance: a server back on the same host and port is no
        // longer dead, whatever its new start code.
        ServerName back;
        if (!ServerName::Parse(s, &back)) continue;
        for (auto it = dead.begin(); it != dead.end();) {
          ServerName d;
          bool same = ServerName::Parse(*it, &d) && d.host == back.host && d.port == back.port;
          it = same ? dead.erase(it) : std::next(it);
        }
      }
      live = now;
      for (const auto& g : gone) dead.insert(g);
      for (const auto& s : now) dead.erase(s);
    }
    std::map<std::string, int> reassigned;
    for (const auto& g : gone) {
      Log::Get().Info("org.apache.hadoop.hbase.master.RegionServerTracker",
                      "RegionServer ephemeral node deleted, processing expiration [" + g + "]");
      Log::Get().Info(kScp, "Start pid=" + std::to_string(++pid) + ", state=RUNNABLE:SERVER_CRASH_START; ServerCrashProcedure " +
                                g + ", splitWal=true, meta=false");
      reassigned[g] = 0;
    }
    std::vector<std::string> targets(now.begin(), now.end());
    size_t next = static_cast<size_t>(NowMs() / 100);
    for (auto& r : assignments) {
      bool on_live = !r.server.empty() && now.count(r.server);
      if (on_live || targets.empty()) continue;
      std::string from = r.server;
      r.server = targets[next++ % targets.size()];
      r.state = "OPENING";
      if (zk.Set(HBaseAssignmentDir(parent) + "/" + r.region, r.ToJson().dump(), versions[r.region]) == ZkError::kOk) {
        Log::Get().Info(kAm, std::string("Assigning ") + kTable + "," + r.start_key + "," + r.region + " to " + r.server +
                                 (from.empty() ? "" : " (was on " + from + ")"));
        if (reassigned.count(from)) ++reassigned[from];
      }
    }
    for (const auto& [g, n] : reassigned) {
      Log::Get().Info(kScp, "Finished ServerCrashProcedure " + g + ", splitWal=true, meta=false: " +
                                std::to_string(n) + " regions reassigned");
    }
    std::lock_guard<std::mutex> lock(mu);
    table = assignments;
    table_read = true;
  }
  return 0;
}

int RunRegionServer(const Flags& f) {
  ServerName me;
  me.host = f.Require("host");
  me.port = f.GetInt("port", 0);
  me.start_code = static_cast<uint64_t>(NowMs());
  std::string parent = f.Get("parent", "/hbase");
  std::string data_dir = f.Require("data-dir");
  int session_ms = f.GetInt("session-timeout", 5000);
  std::string bind = f.Get("bind", "127.0.0.1");
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();
  ::mkdir(data_dir.c_str(), 0755);
  const std::string sn = me.ToString();
  const std::string ident = "regionserver:" + std::to_string(me.port);

  Session session(f.Require("zk"), session_ms, kRs);
  session.on_disconnected = [&] { Log::Get().Warn(kRs, ident + " received disconnected from ZooKeeper (ConnectionLoss)"); };
  Status st = session.Start(std::chrono::milliseconds(session_ms * 3));
  if (!st.ok()) {
    Log::Get().Error(kRs, "Failed construction of RegionServer: " + st.message());
    return 3;
  }
  ZkClient& zk = session.zk();
  zk.EnsurePath(parent + "/rs");
  Status why;
  if (zk.Create(parent + "/rs/" + sn, EncodeHBaseRegionServer(me.port, ident), true, &why) != ZkError::kOk) {
    Log::Get().Error(kRs, "Failed to register " + sn + ": " + why.message());
    return 3;
  }
  Log::Get().Info(kRs, "Serving as " + sn + ", RpcServer on " + bind + ":" + std::to_string(me.port) +
                           ", sessionid=" + Hex(zk.session_id()));

  std::mutex mu;
  std::set<std::string> online;  // regions this server has opened
  auto expired_check = [&] {
    if (session.expired()) {
      Abort(kRs, "region server", sn,
            ident + "-" + Hex(zk.session_id()) + ", quorum=" + f.Get("zk") + ", baseZNode=" + parent + " " + ident +
                "-" + Hex(zk.session_id()) + " received expired from ZooKeeper, aborting");
    }
  };
  HttpServer http;
  st = http.Start(bind, me.port, [&](const HttpRequest& r) {
    if (r.path == "/status") {
      std::lock_guard<std::mutex> lock(mu);
      return HttpResponse::Json({{"serverName", sn}, {"onlineRegions", online}});
    }
    if (r.path != "/put" && r.path != "/get") return HttpResponse::Json({{"error", "no such resource"}}, 404);
    std::string row = r.query.count("row") ? r.query.at("row") : "";
    // Ownership is checked against ZooKeeper on every request: a server whose session died
    // while it was frozen must not write into a region that now belongs to someone else.
    expired_check();
    if (!session.connected()) return HttpResponse::Json({{"exception", "RegionServerStoppedException"}}, 503);
    bool ok = false;
    auto regions = ReadAssignments(zk, parent, &ok);
    const RegionAssignment* region = ok ? RegionForRow(regions, row) : nullptr;
    if (!region || region->server != sn || region->state != "OPEN") {
      return HttpResponse::Json({{"exception", "org.apache.hadoop.hbase.NotServingRegionException"},
                                 {"message", "Region for row '" + row + "' is not online on " + sn}},
                                409);
    }
    std::string file = data_dir + "/" + region->region + "/" + UrlEncode(row);
    if (r.path == "/put") {
      ::mkdir((data_dir + "/" + region->region).c_str(), 0755);
      Status w = WriteFileDurable(file, r.body);
      if (!w.ok()) return HttpResponse::Json({{"error", w.message()}}, 503);
      return HttpResponse::Json({{"ok", true}, {"region", region->region}});
    }
    std::string value;
    if (!ReadFile(file, &value)) return HttpResponse::Json({{"row", row}, {"found", false}}, 404);
    HttpResponse resp;
    resp.content_type = "application/octet-stream";
    resp.body = value;
    return resp;
  });
  if (!st.ok()) {
    std::fprintf(stderr, "fl-svc regionserver: %s\n", st.message().c_str());
    return 3;
  }
  while (!g_stop) {
    SleepMs(100);
    expired_check();
    if (!session.connected()) continue;
    std::map<std::string, int> versions;
    bool ok = false;
    auto regions = ReadAssignments(zk, parent, &ok, &versions);
    if (!ok) continue;
    std::set<std::string> mine;
    for (auto& r : regions) {
      if (r.server != sn) continue;
      if (r.state == "OPENING") {
        r.state = "OPEN";
        if (zk.Set(HBaseAssignmentDir(parent) + "/" + r.region, r.ToJson().dump(), versions[r.region]) != ZkError::kOk) {
          continue;
        }
        Log::Get().Info("org.apache.hadoop.hbase.regionserver.handler.AssignRegionHandler",
                        "Opened " + std::string(kTable) + "," + r.start_key + "," + r.region + ".");
      }
      if (r.state == "OPEN") mine.insert(r.region);
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& r : online) {
      if (!mine.count(r)) Log::Get().Info(kRs, "Closed " + r);
    }
    online = mine;
  }
  Log::Get().Info(kRs, "STOPPED: Shutting down " + sn);
  return 0;
}

int RunHBaseClient(const Flags& f) {
  if (f.positional().empty()) {
    std::fprintf(stderr, "Usage: fl-svc client hbase --zk HOSTS [--parent /hbase] [--row R] TOKEN\n");
    return 2;
  }
  std::string token = f.positional().back();
  std::string row = f.Get("row", "faultline-rw");
  ZkClient::Options o;
  o.connect = f.Require("zk");
  ZkClient zk(o);
  Status st = zk.Connect(std::chrono::milliseconds(3000));
  if (!st.ok()) {
    std::fprintf(stderr, "hbase: %s\n", st.message().c_str());
    return 1;
  }
  bool ok = false;
  auto regions = ReadAssignments(zk, f.Get("parent", "/hbase"), &ok);
  const RegionAssignment* region = ok ? RegionForRow(regions, row) : nullptr;
  ServerName sn;
  if (!region || region->state != "OPEN" || !ServerName::Parse(region->server, &sn)) {
    std::fprintf(stderr, "hbase: the region of row '%s' is not online (in transition or unassigned)\n", row.c_str());
    return 1;
  }
  int status = 0;
  std::string out;
  st = HttpCall(sn.host, sn.port, "PUT", "/put?row=" + UrlEncode(row), token, std::chrono::milliseconds(2000), &status, &out);
  if (!st.ok() || status != 200) {
    std::fprintf(stderr, "hbase: put to %s failed: %s\n", region->server.c_str(), st.ok() ? out.c_str() : st.message().c_str());
    return 1;
  }
  st = HttpCall(sn.host, sn.port, "GET", "/get?row=" + UrlEncode(row), "", std::chrono::milliseconds(2000), &status, &out);
  if (!st.ok() || status != 200) {
    std::fprintf(stderr, "hbase: get from %s failed: %s\n", region->server.c_str(), st.ok() ? out.c_str() : st.message().c_str());
    return 1;
  }
  std::printf("%s\n", out.c_str());
  return out == token ? 0 : 1;
}

}  // namespace faultline::svc

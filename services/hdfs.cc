// HDFS stand-ins: a NameNode with active/standby state and a shared edits directory whose
// writer epoch fences a stale active (as the QuorumJournalManager's promised epoch does), a
// failover controller per NameNode, a haadmin-style state query, and a client.
//
// The NameNode's one port serves what the real one splits over RPC and HTTP:
//   GET  /state                         {"id","state","epoch"}   (HAServiceProtocol)
//   POST /transitionToActive, /transitionToStandby
//   PUT  /webhdfs/v1/<path>?op=CREATE   body = file content       (active only)
//   GET  /webhdfs/v1/<path>?op=OPEN                               (active only)
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "checks/hdfs_znodes.h"
#include "services/common.h"
#include "services/elector.h"
#include "services/services.h"

namespace faultline::svc {
namespace {

constexpr const char* kFsn = "org.apache.hadoop.hdfs.server.namenode.FSNamesystem";
constexpr const char* kZkfc = "org.apache.hadoop.ha.ZKFailoverController";
constexpr const char* kHealth = "org.apache.hadoop.ha.HealthMonitor";
constexpr const char* kFence = "org.apache.hadoop.ha.NodeFencer";

std::string Escape(const std::string& path) {
  std::string out;
  for (char c : path) out += (c == '/') ? std::string("%2F") : std::string(1, c);
  return out;
}

HttpResponse StandbyException(const std::string& category) {
  return HttpResponse::Json(
      {{"RemoteException",
        {{"exception", "StandbyException"},
         {"javaClassName", "org.apache.hadoop.ipc.StandbyException"},
         {"message", "Operation category " + category + " is not supported in state standby"}}}},
      403);
}

}  // namespace

int RunNameNode(const Flags& f) {
  std::string id = f.Require("id");
  std::string shared = f.Require("shared-dir");
  std::string host;
  int port;
  if (!SplitHostPort(f.Require("http"), &host, &port)) {
    std::fprintf(stderr, "fl-svc namenode: --http expects host:port\n");
    return 2;
  }
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();
  ::mkdir(shared.c_str(), 0755);
  ::mkdir((shared + "/data").c_str(), 0755);

  std::mutex mu;
  std::string state = "standby";
  long long my_epoch = 0;
  auto read_epoch = [&] {
    std::string text;
    return ReadFile(shared + "/epoch", &text) ? std::atoll(text.c_str()) : 0LL;
  };
  // Every edit checks that no newer writer has been promised the shared edits: a NameNode
  // that was fenced while it still believed it was active dies here instead of writing.
  auto check_epoch_or_die = [&] {
    long long promised = read_epoch();
    if (promised > my_epoch) {
      Log::Get().Fatal(kFsn, "Error: flush failed for required journal (JournalAndStream(mgr=QJM to [" + shared +
                                 "])): IPC's epoch " + std::to_string(my_epoch) +
                                 " is less than the last promised epoch " + std::to_string(promised));
      Log::Get().Info("org.apache.hadoop.util.ExitUtil", "Exiting with status 1");
      std::_Exit(1);
    }
  };

  HttpServer http;
  Status st = http.Start(host, port, [&](const HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    if (r.path == "/state") {
      return HttpResponse::Json({{"id", id}, {"state", state}, {"epoch", my_epoch}});
    }
    if (r.method == "POST" && r.path == "/transitionToActive") {
      if (state != "active") {
        Log::Get().Info(kFsn, "Stopping services started for standby state");
        long long next = read_epoch() + 1;
        Status w = WriteFileDurable(shared + "/epoch", std::to_string(next) + "\n");
        if (!w.ok()) return HttpResponse::Json({{"error", w.message()}}, 503);
        my_epoch = next;
        Log::Get().Info(kFsn, "Starting services required for active state");
        Log::Get().Info(kFsn, "Catching up to latest edits from old active before taking over writer role in edits logs");
        Log::Get().Info(kFsn, "Writer epoch is now " + std::to_string(my_epoch));
        state = "active";
      }
      return HttpResponse::Json({{"state", state}});
    }
    if (r.method == "POST" && r.path == "/transitionToStandby") {
      if (state != "standby") {
        Log::Get().Info(kFsn, "Stopping services started for active state");
        Log::Get().Info(kFsn, "Starting services required for standby state");
        state = "standby";
      }
      return HttpResponse::Json({{"state", state}});
    }
    if (r.path.rfind("/webhdfs/v1/", 0) == 0) {
      std::string file = r.path.substr(11);
      std::string op = r.query.count("op") ? r.query.at("op") : "";
      if (op == "CREATE" && r.method == "PUT") {
        if (state != "active") return StandbyException("WRITE");
        check_epoch_or_die();
        Status w = WriteFileDurable(shared + "/data/" + Escape(file), r.body);
        if (!w.ok()) return HttpResponse::Json({{"error", w.message()}}, 503);
        return HttpResponse::Json({{"boolean", true}}, 201);
      }
      if (op == "OPEN") {
        if (state != "active") return StandbyException("READ");
        std::string data;
        if (!ReadFile(shared + "/data/" + Escape(file), &data)) {
          return HttpResponse::Json({{"RemoteException", {{"exception", "FileNotFoundException"},
                                                          {"message", "File does not exist: " + file}}}},
                                    404);
        }
        HttpResponse resp;
        resp.content_type = "application/octet-stream";
        resp.body = data;
        return resp;
      }
    }
    return HttpResponse::Json({{"error", "no such resource: " + r.method + " " + r.path}}, 404);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "fl-svc namenode: %s\n", st.message().c_str());
    return 3;
  }
  Log::Get().Info("org.apache.hadoop.hdfs.server.namenode.NameNode",
                  "NameNode " + id + " RPC up at: " + host + ":" + std::to_string(port) + ", in state standby");
  while (!g_stop) SleepMs(100);
  Log::Get().Info("org.apache.hadoop.hdfs.server.namenode.NameNode", "SHUTDOWN_MSG: Shutting down NameNode " + id);
  http.Stop();
  return 0;
}

int RunZkfc(const Flags& f) {
  std::string id = f.Require("id");
  std::string ns = f.Require("nameservice");
  std::string zk_connect = f.Require("zk");
  std::string nn_host;
  int nn_port;
  if (!SplitHostPort(f.Require("nn"), &nn_host, &nn_port)) {
    std::fprintf(stderr, "fl-svc zkfc: --nn expects host:port of the local NameNode\n");
    return 2;
  }
  int zkfc_port = f.GetInt("zkfc-port", 0);
  int session_ms = f.GetInt("session-timeout", 5000);
  std::vector<std::string> fence_argv = f.rest();
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();

  ActiveNodeInfo me;
  me.nameservice_id = ns;
  me.namenode_id = id;
  me.hostname = f.Get("advertise-host", nn_host);
  me.port = nn_port;
  me.zkfc_port = zkfc_port;
  const std::string target = "NameNode at " + me.hostname + ":" + std::to_string(nn_port);

  auto call_nn = [](const std::string& h, int p, const std::string& method, const std::string& path,
                    std::string* out) {
    int status = 0;
    Status st = HttpCall(h, p, method, path, "", std::chrono::milliseconds(1000), &status, out);
    if (st.ok() && status != 200) st = Status::Unavailable("HTTP " + std::to_string(status) + ": " + *out);
    return st;
  };

  Elector::Callbacks cb;
  cb.become_active = [&] {
    Log::Get().Info(kZkfc, "Trying to make " + target + " active...");
    std::string out;
    Status st = call_nn(nn_host, nn_port, "POST", "/transitionToActive", &out);
    if (!st.ok()) {
      Log::Get().Error(kZkfc, "Couldn't make " + target + " active: " + st.message());
      return false;
    }
    Log::Get().Info(kZkfc, "Successfully transitioned " + target + " to active state");
    return true;
  };
  cb.become_standby = [&] {
    Log::Get().Info(kZkfc, "ZK Election indicated that " + target + " should become standby");
    std::string out;
    Status st = call_nn(nn_host, nn_port, "POST", "/transitionToStandby", &out);
    if (st.ok()) Log::Get().Info(kZkfc, "Successfully transitioned " + target + " to standby state");
  };
  cb.fence = [&](const std::string& crumb) {
    ActiveNodeInfo old;
    if (!DecodeActiveNodeInfo(crumb, &old).ok()) {
      Log::Get().Error(kZkfc, "Unable to read the breadcrumb of the old active; cannot fence it");
      return false;
    }
    std::string old_target = "NameNode at " + old.hostname + ":" + std::to_string(old.port);
    Log::Get().Info(kZkfc, "Should fence: " + old_target);
    std::string out;
    // Graceful first: ask the old active to step down, as FailoverController.tryGracefulFence does.
    if (call_nn(old.hostname, old.port, "POST", "/transitionToStandby", &out).ok()) {
      Log::Get().Info(kZkfc, "Successfully transitioned " + old_target + " to standby state without fencing");
      return true;
    }
    Log::Get().Info(kFence, "====== Beginning Service Fencing Process... ======");
    if (fence_argv.empty()) {
      Log::Get().Error(kFence, "Unable to fence service by any configured method (no fencing command)");
      return false;
    }
    std::string joined;
    for (const auto& a : fence_argv) joined += (joined.empty() ? "" : " ") + a;
    Log::Get().Info(kFence, "Trying method 1/1: org.apache.hadoop.ha.ShellCommandFencer(" + joined + ")");
    // The ShellCommandFencer's environment: the target of the fence. Built before fork():
    // the child of a threaded process may only exec.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.push_back(*e);
    env.push_back("target_host=" + old.hostname);
    env.push_back("target_port=" + std::to_string(old.port));
    env.push_back("target_nameserviceid=" + old.nameservice_id);
    env.push_back("target_namenodeid=" + old.namenode_id);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = fence_argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      execvpe(argv[0], argv.data(), envp.data());
      std::_Exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      Log::Get().Warn(kFence, "Fencing method org.apache.hadoop.ha.ShellCommandFencer(" + joined +
                                  ") was unsuccessful.");
      Log::Get().Error(kFence, "Unable to fence service by any configured method.");
      return false;
    }
    Log::Get().Info(kFence, "====== Fencing successful by method org.apache.hadoop.ha.ShellCommandFencer(" +
                                joined + ") ======");
    return true;
  };

  Elector elector(zk_connect, session_ms, HdfsElectorDir(ns), EncodeActiveNodeInfo(me), cb);
  std::string health = "INITIALIZING";
  std::unique_ptr<HttpServer> http;
  if (f.Has("http")) {
    std::string h;
    int p;
    if (!SplitHostPort(f.Get("http"), &h, &p)) return 2;
    http = std::make_unique<HttpServer>();
    Status st = http->Start(h, p, [&](const HttpRequest&) {
      return HttpResponse::Json({{"id", id}, {"health", health}, {"electorActive", elector.active()}});
    });
    if (!st.ok()) {
      std::fprintf(stderr, "fl-svc zkfc: %s\n", st.message().c_str());
      return 3;
    }
  }
  Log::Get().Info(kZkfc, "Starting failover controller for " + target + " in nameservice " + ns);
  while (!g_stop) {
    std::string out;
    Status st = call_nn(nn_host, nn_port, "GET", "/state", &out);
    std::string now = st.ok() ? "SERVICE_HEALTHY" : "SERVICE_NOT_RESPONDING";
    if (now != health) {
      if (!st.ok()) Log::Get().Warn(kHealth, "Transport-level exception trying to monitor health of " + target + ": " + st.message());
      Log::Get().Info(kHealth, "Entering state " + now);
      Log::Get().Info(kZkfc, "Local service " + target + " entered state: " + now);
      if (!st.ok() && elector.active()) {
        Log::Get().Info(kZkfc, "Quitting master election for " + target + " and marking that fencing is necessary");
      }
      health = now;
    }
    elector.Tick(health == "SERVICE_HEALTHY");
    SleepMs(200);
  }
  return 0;
}

int RunHaAdmin(const Flags& f) {
  // --nn id=host:port (repeated); -getAllServiceState or -getServiceState <id>.
  std::vector<std::pair<std::string, std::string>> nns;
  for (const auto& spec : f.All("nn")) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "fl-svc haadmin: --nn expects id=host:port, got '%s'\n", spec.c_str());
      return 2;
    }
    nns.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
  }
  if (nns.empty()) {
    std::fprintf(stderr, "fl-svc haadmin: name the NameNodes with --nn id=host:port\n");
    return 2;
  }
  const auto& pos = f.positional();
  std::string only;
  bool all = false;
  for (size_t i = 0; i < pos.size(); ++i) {
    if (pos[i] == "-getAllServiceState") all = true;
    if (pos[i] == "-getServiceState" && i + 1 < pos.size()) only = pos[i + 1];
  }
  if (!all && only.empty()) {
    std::fprintf(stderr, "Usage: fl-svc haadmin --nn id=host:port... [-getAllServiceState] [-getServiceState <id>]\n");
    return 2;
  }
  int rc = 0;
  for (const auto& [nid, addr] : nns) {
    if (!all && nid != only) continue;
    std::string h;
    int p;
    HaServiceState s;
    s.address = addr;
    std::string out;
    int status = 0;
    Status st = SplitHostPort(addr, &h, &p)
                    ? HttpCall(h, p, "GET", "/state", "", std::chrono::milliseconds(2000), &status, &out)
                    : Status::Invalid("bad address " + addr);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (st.ok() && status == 200 && j.is_object() && j.contains("state")) {
      s.state = j["state"].get<std::string>();
    } else {
      s.state = "unreachable";
      s.detail = "Call From fl-svc to " + addr + " failed on connection exception: " +
                 (st.ok() ? "HTTP " + std::to_string(status) : st.message());
      rc = all ? rc : 255;
    }
    if (all) {
      std::printf("%s\n", FormatHaServiceState(s).c_str());
    } else {
      std::printf("%s\n", s.state == "unreachable" ? ("Failed to connect: " + s.detail).c_str() : s.state.c_str());
    }
  }
  return rc;
}

int RunHdfsClient(const Flags& f) {
  // --nn host:port (repeated, tried in order like ConfiguredFailoverProxyProvider); TOKEN.
  if (f.positional().empty()) {
    std::fprintf(stderr, "Usage: fl-svc client hdfs --nn host:port... TOKEN\n");
    return 2;
  }
  std::string token = f.positional().back();
  std::string path = f.Get("path", "/tmp/.faultline-rw");
  // Short per-NameNode timeouts, so a frozen NameNode does not hide the one that answers.
  std::chrono::milliseconds timeout(f.GetInt("timeout-ms", 700));
  std::string errors;
  for (const auto& addr : f.All("nn")) {
    std::string h;
    int p;
    if (!SplitHostPort(addr, &h, &p)) continue;
    int status = 0;
    std::string out;
    Status st = HttpCall(h, p, "PUT", "/webhdfs/v1" + path + "?op=CREATE", token, timeout, &status, &out);
    if (!st.ok() || status != 201) {
      errors += addr + ": " + (st.ok() ? out : st.message()) + "; ";
      continue;
    }
    st = HttpCall(h, p, "GET", "/webhdfs/v1" + path + "?op=OPEN", "", timeout, &status, &out);
    if (!st.ok() || status != 200) {
      errors += addr + ": read back: " + (st.ok() ? out : st.message()) + "; ";
      continue;
    }
    std::printf("%s\n", out.c_str());
    return out == token ? 0 : 1;
  }
  std::fprintf(stderr, "hdfs: no NameNode accepted the write: %s\n", errors.c_str());
  return 1;
}

int RunResourceManager(const Flags& f) {
  std::string id = f.Require("id");
  std::string cluster = f.Require("cluster");
  std::string zk_connect = f.Require("zk");
  int session_ms = f.GetInt("session-timeout", 5000);
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();
  constexpr const char* kRm = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager";
  std::mutex mu;
  std::string ha_state = "STANDBY";
  Elector::Callbacks cb;
  cb.become_active = [&] {
    Log::Get().Info(kRm, "Transitioning to active state");
    std::lock_guard<std::mutex> lock(mu);
    ha_state = "ACTIVE";
    Log::Get().Info(kRm, "Transitioned to active state");
    return true;
  };
  cb.become_standby = [&] {
    std::lock_guard<std::mutex> lock(mu);
    if (ha_state == "STANDBY") return;
    Log::Get().Info(kRm, "Transitioning to standby state");
    ha_state = "STANDBY";
    Log::Get().Info(kRm, "Transitioned to standby state");
  };
  // YARN fences through its state store, not a command: the new active may proceed.
  cb.fence = [](const std::string&) { return true; };
  ActiveRmInfo me{cluster, id};
  Elector elector(zk_connect, session_ms, YarnElectorDir(cluster), EncodeActiveRmInfo(me), cb);
  HttpServer http;
  std::string h;
  int p;
  if (!SplitHostPort(f.Require("http"), &h, &p)) return 2;
  Status st = http.Start(h, p, [&](const HttpRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    return HttpResponse::Json({{"clusterInfo", {{"id", NowMs()}, {"rmId", id}, {"haState", ha_state},
                                                {"haZooKeeperConnectionState",
                                                 elector.zk() && elector.zk()->state() == ZkSessionState::kConnected
                                                     ? "CONNECTED" : "DISCONNECTED"}}}});
  });
  if (!st.ok()) {
    std::fprintf(stderr, "fl-svc resourcemanager: %s\n", st.message().c_str());
    return 3;
  }
  Log::Get().Info(kRm, "ResourceManager " + id + " of cluster " + cluster + " started in state STANDBY");
  while (!g_stop) {
    elector.Tick(true);
    SleepMs(200);
  }
  return 0;
}

}  // namespace faultline::svc

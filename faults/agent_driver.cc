#include "faults/agent_driver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "base/strings.h"
#include "faults/agent_protocol.h"
#include "faults/command_fault.h"

namespace faultline {

using nlohmann::json;
namespace proto = agent_protocol;

namespace {

bool Executable(const std::string& p) { return !p.empty() && access(p.c_str(), X_OK) == 0; }

// Runs `path --version` on the host: true when it is our agent at our version. Failing to
// run anything at all (the host, not the file) is an error, not "absent".
Status AgentThere(Transport& t, const std::string& path, bool* there) {
  ExecRequest req;
  req.argv = {path, "--version"};
  req.timeout = std::chrono::milliseconds(30000);
  ExecResult res;
  *there = false;
  Status st = t.Exec(req, &res);
  if (st.code() == Status::Code::kTimeout) return st.Annotate(t.host() + ": " + path + " --version");
  if (!st.ok() || res.exit_status != 0) return Status::Ok();
  *there = res.stdout_data.find(std::string("faultline-agent ") + proto::kAgentVersion + " ") !=
           std::string::npos;
  return Status::Ok();
}

// The identity of an agent build: FNV-1a 64 over the binary's bytes, as 16 hex digits. Two
// builds of one version differ here, so a host never keeps running an agent older than the
// controller's. "" when the file cannot be read.
std::string ContentId(const std::string& file) {
  struct stat sb {};
  if (::stat(file.c_str(), &sb) != 0) return "";
  // Hashed once per process and file version (hosts ask in parallel, for every session).
  const std::string key = file + "|" + std::to_string(sb.st_size) + "|" + std::to_string(sb.st_mtim.tv_sec) +
                          "." + std::to_string(sb.st_mtim.tv_nsec) + "|" + std::to_string(sb.st_ino);
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return "";
  uint64_t h = 1469598103934665603ull;
  unsigned char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < n; ++i) h = (h ^ buf[i]) * 1099511628211ull;
  }
  bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) return "";
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return cache[key] = out;
}

Status EnsureAgent(Transport& t, const json& vars, std::string* path) {
  std::string preset = vars.value("faultline_agent_path", "");
  bool there = false;
  if (!preset.empty()) {
    FAULTLINE_RETURN_IF_ERROR(AgentThere(t, preset, &there));
    if (!there) {
      return Status::Unavailable(t.host() + ": faultline_agent_path " + preset +
                                 " is not faultline-agent " + proto::kAgentVersion);
    }
    *path = preset;
    return Status::Ok();
  }
  ExecRequest home_req;
  home_req.argv = {"sh", "-c", "printf %s \"$HOME\""};
  ExecResult home;
  FAULTLINE_RETURN_IF_ERROR(t.Exec(home_req, &home).Annotate(t.host()));
  std::string dir = TrimRight(home.stdout_data);
  if (dir.empty()) dir = "/tmp";
  dir += "/.cache/faultline";
  std::string local = LocalAgentBinary();
  if (local.empty()) {
    return Status::Unavailable("no faultline-agent binary on the controller to upload to " + t.host() +
                               " (set FAULTLINE_AGENT_BINARY)");
  }
  const std::string id = ContentId(local);
  if (id.empty()) return Status::Unavailable("cannot read the agent binary " + local);
  const std::string name = std::string("agent-") + proto::kAgentVersion + "-" + id;
  *path = dir + "/" + name;
  FAULTLINE_RETURN_IF_ERROR(AgentThere(t, *path, &there));
  if (there) return Status::Ok();
  ExecRequest mk;
  mk.argv = {"mkdir", "-p", "-m", "700", dir};
  ExecResult mk_res;
  FAULTLINE_RETURN_IF_ERROR(t.Exec(mk, &mk_res).Annotate(t.host()));
  if (mk_res.exit_status != 0) {
    return Status::Unavailable(t.host() + ": cannot create " + dir + ": " + TrimRight(mk_res.stderr_data));
  }
  FAULTLINE_RETURN_IF_ERROR(t.Upload(local, *path, 0755).Annotate(t.host() + ": uploading the agent"));
  FAULTLINE_RETURN_IF_ERROR(AgentThere(t, *path, &there));
  if (!there) {
    return Status::Unavailable(t.host() + ": the uploaded agent at " + *path + " does not run");
  }
  // Other builds in the cache are of no further use. One still running (a watchdog of an
  // earlier run) keeps going: it re-executes itself through /proc/self/exe, not the path.
  ExecRequest prune;
  prune.argv = {"find", dir, "-maxdepth", "1", "-type", "f", "-name", "agent-*", "!", "-name", name, "-delete"};
  ExecResult prune_res;
  (void)t.Exec(prune, &prune_res);
  return Status::Ok();
}

int LeaseMs(const json& vars) {
  if (const char* env = std::getenv("FAULTLINE_AGENT_LEASE_MS")) {
    int v = std::atoi(env);
    if (v > 0) return v;
  }
  if (vars.contains("faultline_agent_lease")) {
    const auto& v = vars["faultline_agent_lease"];
    if (v.is_number()) return static_cast<int>(v.get<double>() * 1000);
    if (v.is_string()) {
      auto d = ParseDuration(v.get<std::string>());
      if (d) return static_cast<int>(d->count());
    }
  }
  return proto::kDefaultLeaseMs;
}

// One agent per (run, host), shared by every driver of the run.
class SessionPool {
 public:
  static SessionPool& Get() {
    static auto* pool = new SessionPool();
    return *pool;
  }

  Status For(const FaultInstance& fault, Transport& t, std::shared_ptr<AgentSession>* out) {
    std::string key = fault.run_id + "\n" + t.host();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(key);
    if (it != sessions_.end() && it->second.session->alive()) {
      *out = it->second.session;
      return Status::Ok();
    }
    // First use, or the agent died (its faults stay held by the state file and the
    // watchdog): start a new agent, which picks the state up.
    std::unique_ptr<AgentSession> s;
    FAULTLINE_RETURN_IF_ERROR(AgentSession::Start(t, fault.host_vars, &s));
    auto& e = sessions_[key];
    e.session = std::shared_ptr<AgentSession>(std::move(s));
    e.run = fault.run_id;
    e.lease_ms = LeaseMs(fault.host_vars);
    *out = e.session;
    return Status::Ok();
  }

  int Lease(const FaultInstance& fault, const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(fault.run_id + "\n" + host);
    return it == sessions_.end() ? proto::kDefaultLeaseMs : it->second.lease_ms;
  }

  void RenewAll() {
    std::vector<Entry*> due;
    auto now = std::chrono::steady_clock::now().time_since_epoch() / std::chrono::milliseconds(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [key, e] : sessions_) {
        // Every driver of a run calls KeepAlive; one renewal per session and ~second is enough.
        if (now - e.last_renew_ms < 500) continue;
        e.last_renew_ms = now;
        due.push_back(&e);
      }
    }
    for (Entry* e : due) {
      json resp;
      std::shared_ptr<AgentSession> session;
      {
        std::lock_guard<std::mutex> lock(mu_);
        session = e->session;
      }
      session->Call({{"op", "renew"}, {"run", e->run}, {"lease_ms", e->lease_ms}}, &resp,
                       std::chrono::milliseconds(5000));
    }
  }

 private:
  struct Entry {
    std::shared_ptr<AgentSession> session;
    std::string run;
    int lease_ms = proto::kDefaultLeaseMs;
    long long last_renew_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> sessions_;  // entries are never erased: pointers stay valid
};

class AgentDriver : public FaultDriver {
 public:
  Status Inject(const FaultInstance& fault, Transport& t, InjectOutcome* out) override {
    json params;
    FAULTLINE_RETURN_IF_ERROR(AgentParams(fault, &params).Annotate(fault.host + ": " + fault.fault));
    std::shared_ptr<AgentSession> s;
    FAULTLINE_RETURN_IF_ERROR(SessionPool::Get().For(fault, t, &s));
    json resp;
    FAULTLINE_RETURN_IF_ERROR(s->Call({{"op", "inject"},
                                       {"run", fault.run_id},
                                       {"fault", fault.fault},
                                       {"action", fault.action},
                                       {"params", params},
                                       {"lease_ms", SessionPool::Get().Lease(fault, t.host())}},
                                      &resp));
    out->detail = resp.value("detail", "");
    for (const auto& n : resp.value("notes", json::array())) out->notes.push_back(n.get<std::string>());
    return Status::Ok();
  }

  Status Revert(const FaultInstance& fault, Transport& t, std::string* detail) override {
    std::shared_ptr<AgentSession> s;
    FAULTLINE_RETURN_IF_ERROR(SessionPool::Get().For(fault, t, &s));
    json resp;
    FAULTLINE_RETURN_IF_ERROR(
        s->Call({{"op", "revert"}, {"run", fault.run_id}, {"fault", fault.fault}}, &resp));
    *detail = resp.value("detail", "");
    return Status::Ok();
  }

  void KeepAlive() override { SessionPool::Get().RenewAll(); }
};

Status CommandArgv(const json& value, const std::string& what, json* out) {
  std::vector<std::string> argv;
  std::string why;
  if (!ParseCommandWords(value, &argv, &why)) return Status::Invalid(what + ": " + why);
  *out = argv;
  return Status::Ok();
}

FaultParam P(std::string name, FaultParam::Kind kind, bool required, std::string help,
             std::string refers_to = "") {
  return FaultParam{std::move(name), kind, required, std::move(help), std::move(refers_to)};
}

}  // namespace

std::string LocalAgentBinary() {
  if (const char* env = std::getenv("FAULTLINE_AGENT_BINARY")) {
    if (Executable(env)) return env;
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto dir = self.parent_path();
    for (const auto& candidate :
         {dir / "faultline-agent", dir / ".." / "faults" / "agent" / "faultline-agent",
          dir / ".." / ".." / "faults" / "agent" / "faultline-agent",
          dir / ".." / "lib" / "faultline" / "faultline-agent"}) {
      if (Executable(candidate.string())) return std::filesystem::weakly_canonical(candidate).string();
    }
  }
  return Executable("/usr/lib/faultline/faultline-agent") ? "/usr/lib/faultline/faultline-agent" : "";
}

Status AgentSession::Start(Transport& t, const json& vars, std::unique_ptr<AgentSession>* out) {
  std::string path;
  FAULTLINE_RETURN_IF_ERROR(EnsureAgent(t, vars, &path));
  std::vector<std::string> argv = {path};
  std::string state_dir = vars.value("faultline_agent_state_dir", "");
  if (!state_dir.empty()) argv.insert(argv.end(), {"--state-dir", state_dir});
  std::unique_ptr<AgentSession> s(new AgentSession());
  s->host_ = t.host();
  FAULTLINE_RETURN_IF_ERROR(t.Open(argv, &s->channel_).Annotate(t.host() + ": starting the agent"));
  std::string line;
  FAULTLINE_RETURN_IF_ERROR(
      s->channel_->ReadLine(&line, std::chrono::milliseconds(15000)).Annotate(t.host() + ": agent hello"));
  try {
    s->hello_ = json::parse(line);
  } catch (const std::exception& e) {
    return Status::Unavailable(t.host() + ": the agent's hello is not JSON: " + line);
  }
  if (s->hello_.value("type", "") != "hello" ||
      s->hello_.value("protocol", 0) != proto::kProtocolVersion) {
    return Status::Unavailable(t.host() + ": unexpected agent hello: " + line);
  }
  *out = std::move(s);
  return Status::Ok();
}

AgentSession::~AgentSession() {
  if (channel_) channel_->Close();
}

Status AgentSession::Call(json request, json* response, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  long long id = next_id_++;
  request["id"] = id;
  Status wrote = channel_->WriteLine(request.dump());
  if (!wrote.ok()) {
    alive_ = false;
    return wrote.Annotate(host_ + ": agent");
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Timeout(host_ + ": agent gave no answer to " + request.value("op", "?"));
    std::string line;
    Status read = channel_->ReadLine(&line, left);
    if (read.code() == Status::Code::kUnavailable) alive_ = false;
    FAULTLINE_RETURN_IF_ERROR(read.Annotate(host_ + ": agent"));
    json resp;
    try {
      resp = json::parse(line);
    } catch (const std::exception&) {
      continue;  // not a protocol line
    }
    // An answer to an earlier request that timed out here: skip it.
    if (!resp.contains("id") || resp["id"] != id) continue;
    *response = resp;
    return proto::StatusFromResponse(resp).Annotate(host_);
  }
}

Status AgentParams(const FaultInstance& fault, json* params) {
  json p = fault.params.is_object() ? fault.params : json::object();
  const json& vars = fault.host_vars;
  const std::string& a = fault.action;
  if (a.rfind("process.", 0) == 0 && p.contains("process") && p["process"].is_string()) {
    std::string name = p["process"];
    const json procs = vars.value("faultline_processes", json::object());
    if (!procs.contains(name)) {
      return Status::Invalid("process '" + name + "' is not in faultline_processes of host " + fault.host);
    }
    const json& spec = procs[name];
    for (const char* k : {"match", "pidfile", "java_class"}) {
      if (spec.contains(k) && !p.contains(k)) p[k] = spec[k];
    }
    std::string service = spec.value("service", "");
    if (!service.empty()) {
      p["service"] = service;
      const json services = vars.value("faultline_services", json::object());
      if (services.contains(service) && services[service].contains("start") && !p.contains("restart")) {
        json argv;
        FAULTLINE_RETURN_IF_ERROR(CommandArgv(services[service]["start"], "service " + service + " start", &argv));
        p["restart"] = argv;
      }
      if (!p.contains("match") && !p.contains("pidfile") && !p.contains("java_class") &&
          services.contains(service) && services[service].contains("pidfile")) {
        p["pidfile"] = services[service]["pidfile"];
      }
    }
  }
  if (a.rfind("service.", 0) == 0 && p.contains("service") && p["service"].is_string()) {
    std::string name = p["service"];
    const json services = vars.value("faultline_services", json::object());
    if (services.contains(name)) {
      for (const char* k : {"start", "stop"}) {
        if (services[name].contains(k)) {
          json argv;
          FAULTLINE_RETURN_IF_ERROR(CommandArgv(services[name][k], "service " + name + " " + k, &argv));
          p[k] = argv;
        }
      }
    }
  }
  if (a == "network.partition" && p.contains("grudge") && p["grudge"].is_object()) {
    // A grudge maps each host to the peers it drops; this host's entry is its partition.
    const json& g = p["grudge"];
    p["peers"] = g.contains(fault.host) ? g[fault.host] : json::array();
    p.erase("grudge");
  }
  if (p.contains("peer_addresses")) {
    p["peers"] = p["peer_addresses"];
    p.erase("peer_addresses");
  }
  *params = p;
  return Status::Ok();
}

namespace {
Status OneShot(Transport& t, const json& vars, const json& request, json* response) {
  std::unique_ptr<AgentSession> s;
  FAULTLINE_RETURN_IF_ERROR(AgentSession::Start(t, vars, &s));
  return s->Call(request, response, std::chrono::milliseconds(120000));
}
}  // namespace

Status AgentListFaults(Transport& t, const json& vars, json* faults) {
  json resp;
  FAULTLINE_RETURN_IF_ERROR(OneShot(t, vars, {{"op", "list"}}, &resp));
  *faults = resp.value("faults", json::array());
  return Status::Ok();
}

Status AgentCleanup(Transport& t, const json& vars, json* reverted, bool* reached) {
  if (reached) *reached = false;
  std::unique_ptr<AgentSession> s;
  FAULTLINE_RETURN_IF_ERROR(AgentSession::Start(t, vars, &s));
  json resp;
  Status st = s->Call({{"op", "cleanup"}}, &resp, std::chrono::milliseconds(120000));
  if (reached) *reached = resp.is_object() && resp.contains("id");
  *reverted = resp.is_object() ? resp.value("reverted", json::array()) : json::array();
  return st;
}

void RegisterAgentFaults() {
  using K = FaultParam::Kind;
  auto make = [] { return std::unique_ptr<FaultDriver>(new AgentDriver()); };
  auto& c = FaultCatalogue::Global();
  std::vector<FaultParam> selection = {
      P("device", K::kString, false, "network device (default: every device)"),
      P("peers", K::kAny, false, "only traffic to these hosts, groups or addresses"),
      P("ports", K::kAny, false, "only traffic to or from these ports"),
      P("protocol", K::kString, false, "tcp, udp or all")};
  auto with = [&](std::vector<FaultParam> own) {
    own.insert(own.end(), selection.begin(), selection.end());
    return own;
  };
  c.Register({"network.partition", "drop traffic between the target and its peers (iptables)",
              {P("peers", K::kAny, false, "hosts, groups or addresses the target is cut from"),
               P("grudge", K::kAny, false, "map: host -> peers it drops (instead of peers)"),
               P("direction", K::kString, false, "to | from | both (default both)"),
               P("ports", K::kAny, false, "only these ports"),
               P("protocol", K::kString, false, "tcp, udp or all"),
               P("mode", K::kString, false, "packets (default) | connections (only new ones)"),
               P("cut_established", K::kBool, false, "reset established connections too")},
              true},
             make);
  c.Register({"network.delay", "delay packets (netem, or the agent's NFQUEUE delayer)",
              with({P("latency", K::kDuration, true, "added delay"),
                    P("jitter", K::kDuration, false, "± spread of the delay"),
                    P("correlation", K::kPercent, false, "how much each delay follows the last"),
                    P("loss", K::kPercent, false, "also drop this fraction")}),
              false},
             make);
  c.Register({"network.loss", "drop a fraction of packets (netem, or the NFQUEUE delayer)",
              with({P("loss", K::kPercent, true, "fraction dropped"),
                    P("correlation", K::kPercent, false, "burstiness")}),
              false},
             make);
  c.Register({"network.rate", "limit bandwidth on a device (tc tbf)",
              {P("device", K::kString, true, "network device"),
               P("rate", K::kString, true, "e.g. 1mbit, 500kbps"),
               P("burst", K::kBytes, false, "bucket size"),
               P("latency", K::kDuration, false, "longest queueing delay")},
              false},
             make);
  std::vector<FaultParam> proc = {P("process", K::kString, true, "a process named in the inventory", "process")};
  c.Register({"process.pause", "SIGSTOP the process (revert: SIGCONT)", proc, true}, make);
  c.Register({"process.resume", "SIGCONT the process", proc, false}, make);
  auto kill_params = proc;
  kill_params.push_back(P("signal", K::kString, false, "KILL (default), TERM, HUP, 9, ..."));
  c.Register({"process.kill", "signal the process (revert: start its service again)", kill_params, true}, make);
  std::vector<FaultParam> svc = {P("service", K::kString, true, "a service named in the inventory", "service")};
  c.Register({"service.stop", "stop a service (systemctl, else inventory commands); revert starts it", svc, true},
             make);
  c.Register({"service.start", "start a service", svc, false}, make);
  c.Register({"disk.fill", "fill the filesystem holding a path; revert frees it",
              {P("path", K::kString, true, "a path on the filesystem to fill"),
               P("free", K::kString, true, "what stays free: bytes (64MiB) or percent (5%)")},
              true},
             make);
}

}  // namespace faultline

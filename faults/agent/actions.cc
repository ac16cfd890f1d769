#include "faults/agent/actions.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/duration.h"
#include "base/shell.h"
#include "faults/agent/netfilter.h"
#include "faults/agent/qdisc.h"
#include "faults/agent_protocol.h"

namespace faultline::agent {

using nlohmann::json;

namespace {

// ---- parameters ---------------------------------------------------------------------

Status GetString(const json& p, const std::string& key, std::string* out, bool required) {
  if (!p.contains(key) || p[key].is_null()) {
    if (required) return Status::Invalid("parameter '" + key + "' is required");
    return Status::Ok();
  }
  if (p[key].is_string()) {
    *out = p[key].get<std::string>();
  } else if (p[key].is_number()) {
    *out = p[key].dump();
  } else {
    return Status::Invalid("parameter '" + key + "' must be a string");
  }
  return Status::Ok();
}

Status GetStringList(const json& p, const std::string& key, std::vector<std::string>* out) {
  if (!p.contains(key) || p[key].is_null()) return Status::Ok();
  if (p[key].is_string()) {
    out->push_back(p[key].get<std::string>());
    return Status::Ok();
  }
  if (!p[key].is_array()) return Status::Invalid("parameter '" + key + "' must be a list");
  for (const auto& v : p[key]) {
    if (v.is_string()) out->push_back(v.get<std::string>());
    else if (v.is_number_integer()) out->push_back(v.dump());
    else return Status::Invalid("parameter '" + key + "' must be a list of strings");
  }
  return Status::Ok();
}

// Durations come as drill text ("100ms") or as milliseconds.
Status GetMicros(const json& p, const std::string& key, uint32_t* out) {
  if (!p.contains(key) || p[key].is_null()) return Status::Ok();
  if (p[key].is_number()) {
    double ms = p[key].get<double>();
    if (ms < 0) return Status::Invalid("parameter '" + key + "' must not be negative");
    *out = static_cast<uint32_t>(ms * 1000);
    return Status::Ok();
  }
  std::string why;
  std::string text = p[key].is_string() ? p[key].get<std::string>() : p[key].dump();
  auto d = ParseDuration(text, &why);
  if (!d) return Status::Invalid("parameter '" + key + "': " + why);
  *out = static_cast<uint32_t>(d->count() * 1000);
  return Status::Ok();
}

// Fractions come as "20%" or as a number in [0, 1].
Status GetFraction(const json& p, const std::string& key, double* out) {
  if (!p.contains(key) || p[key].is_null()) return Status::Ok();
  if (p[key].is_number()) {
    double v = p[key].get<double>();
    if (v < 0 || v > 1) return Status::Invalid("parameter '" + key + "' must be in [0, 1]");
    *out = v;
    return Status::Ok();
  }
  std::string why;
  auto v = ParsePercent(p[key].is_string() ? p[key].get<std::string>() : "", &why);
  if (!v) return Status::Invalid("parameter '" + key + "': " + why);
  *out = *v;
  return Status::Ok();
}

Status GetPorts(const json& p, std::vector<std::string>* out) {
  std::vector<std::string> raw;
  FAULTLINE_RETURN_IF_ERROR(GetStringList(p, "ports", &raw));
  for (const auto& s : raw) {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || v < 1 || v > 65535) {
      return Status::Invalid("port '" + s + "' is not a number in 1..65535");
    }
    out->push_back(std::to_string(v));
  }
  if (out->size() > 15) return Status::Invalid("at most 15 ports per fault (iptables multiport)");
  return Status::Ok();
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::vector<std::string> Comment(const std::string& tag) {
  return {"-m", "comment", "--comment", tag};
}

std::string Tag(const json& record) {
  return "faultline:" + record.value("run", "") + ":" + record.value("fault", "");
}

// ---- processes ----------------------------------------------------------------------

int SignalNumber(const std::string& name) {
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
      {"TERM", SIGTERM}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"ABRT", SIGABRT}, {"SEGV", SIGSEGV}};
  std::string n = name;
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  for (const auto& [s, v] : kSignals) {
    if (n == s) return v;
  }
  char* end = nullptr;
  long v = std::strtol(name.c_str(), &end, 10);
  if (!name.empty() && !*end && v > 0 && v < 65) return static_cast<int>(v);
  return 0;
}

Status FindProcesses(const json& p, json* out) {
  std::string match, java, pidfile;
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "match", &match, false));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "java_class", &java, false));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "pidfile", &pidfile, false));
  std::vector<ProcessId> found;
  std::string what;
  if (!pidfile.empty()) {
    what = "pidfile " + pidfile;
    FAULTLINE_RETURN_IF_ERROR(FindByPidfile(pidfile, &found));
  } else if (!java.empty()) {
    what = "Java main class " + java;
    FAULTLINE_RETURN_IF_ERROR(FindByJavaClass(java, &found));
  } else if (!match.empty()) {
    what = "pattern '" + match + "'";
    FAULTLINE_RETURN_IF_ERROR(FindByPattern(match, &found));
  } else {
    return Status::Invalid("a process needs 'match', 'java_class' or 'pidfile'");
  }
  if (found.empty()) return Status::NotFound("no process matches " + what);
  *out = json::array();
  for (const auto& f : found) {
    out->push_back({{"pid", f.pid}, {"start", f.start_time}, {"cmdline", f.cmdline}});
  }
  return Status::Ok();
}

ProcessId ToId(const json& j) {
  return {j.value("pid", 0), j.value("start", 0ull), j.value("cmdline", "")};
}

// Signals each recorded process that is still the same process; returns how many.
int SignalRecorded(const json& procs, int sig) {
  int n = 0;
  for (const auto& j : procs) {
    ProcessId id = ToId(j);
    if (id.pid > 1 && SameProcess(id) && kill(id.pid, sig) == 0) ++n;
  }
  return n;
}

Status RunArgv(const json& argv_json, const std::string& what) {
  std::vector<std::string> argv;
  FAULTLINE_RETURN_IF_ERROR(GetStringList(json{{"x", argv_json}}, "x", &argv));
  if (argv.empty()) return Status::Invalid(what + ": empty command");
  return RunChecked(argv).Annotate(what);
}

// ---- leases -------------------------------------------------------------------------

bool WatchdogAlive(const json& lease) {
  if (!lease.contains("watchdog")) return false;
  return SameProcess(ToId(lease["watchdog"]));
}

Status EnsureLease(AgentContext& ctx, json& state, const std::string& run, int lease_ms) {
  if (lease_ms <= 0) return Status::Ok();
  json& lease = state["leases"][run];
  lease["lease_ms"] = lease_ms;
  lease["expires_ms"] = MonotonicMs() + lease_ms;
  FAULTLINE_RETURN_IF_ERROR(ctx.store.Save(state));
  if (WatchdogAlive(lease)) return Status::Ok();
  pid_t pid = 0;
  FAULTLINE_RETURN_IF_ERROR(SpawnDetached(
      {ctx.self_exe, "watchdog", "--state-dir", ctx.store.dir(), "--run", run}, &pid));
  auto start = ProcessStartTime(pid);
  lease["watchdog"] = {{"pid", pid}, {"start", start.value_or(0)}};
  return ctx.store.Save(state);
}

// ---- one action each: plan (artefacts, recorded first), apply, revert ----------------

Status PlanPartition(const json& p, const std::string& tag, json* art, std::vector<std::string>* notes) {
  std::vector<std::string> peers, ports;
  FAULTLINE_RETURN_IF_ERROR(GetStringList(p, "peers", &peers));
  if (peers.empty()) return Status::Invalid("network.partition needs 'peers' (addresses to cut off)");
  for (const auto& peer : peers) FAULTLINE_RETURN_IF_ERROR(CheckAddress(peer));
  FAULTLINE_RETURN_IF_ERROR(GetPorts(p, &ports));
  std::string direction = "both", protocol, mode = "packets";
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "direction", &direction, false));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "protocol", &protocol, false));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "mode", &mode, false));
  if (direction != "both" && direction != "to" && direction != "from") {
    return Status::Invalid("direction must be to, from or both (got '" + direction + "')");
  }
  if (mode != "packets" && mode != "connections") {
    return Status::Invalid("mode must be packets or connections (got '" + mode + "')");
  }
  if (protocol.empty()) protocol = ports.empty() ? "all" : "tcp";
  if (protocol != "all" && protocol != "tcp" && protocol != "udp") {
    return Status::Invalid("protocol must be tcp, udp or all (got '" + protocol + "')");
  }
  if (!ports.empty() && protocol == "all") {
    return Status::Invalid("ports need protocol tcp or udp");
  }
  bool cut = p.value("cut_established", false);
  json rules = json::array();
  for (const auto& peer : peers) {
    for (const char* dir : {"to", "from"}) {
      if (direction != "both" && direction != dir) continue;
      bool out = std::string(dir) == "to";
      std::vector<std::string> match = {out ? "-d" : "-s", peer};
      if (protocol != "all") {
        match.insert(match.end(), {"-p", protocol});
        if (!ports.empty()) match.insert(match.end(), {"-m", "multiport", "--ports", Join(ports, ",")});
      }
      if (mode == "connections") match.insert(match.end(), {"-m", "conntrack", "--ctstate", "NEW"});
      auto c = Comment(tag);
      match.insert(match.end(), c.begin(), c.end());
      std::string chain = out ? kChainOutput : kChainInput;
      if (cut && !out && mode == "packets" && protocol != "udp") {
        // The peer's established TCP connections get a reset at once instead of stalling
        // until their retransmissions give up. (Local sockets are cut by SOCK_DESTROY
        // below: a REJECT in OUTPUT cannot answer locally generated packets.)
        auto m = match;
        if (protocol == "all") {
          // -p must precede the comment match in the rule text; rebuild.
          m = {out ? "-d" : "-s", peer, "-p", "tcp"};
          m.insert(m.end(), c.begin(), c.end());
        }
        m.insert(m.end(), {"-j", "REJECT", "--reject-with", "tcp-reset"});
        rules.push_back(MakeRule("filter", chain, m));
      }
      match.insert(match.end(), {"-j", "DROP"});
      rules.push_back(MakeRule("filter", chain, match));
    }
  }
  (*art)["rules"] = rules;
  (*art)["chains"] = json::array();
  if (direction != "from") (*art)["chains"].push_back(kChainOutput);
  if (direction != "to") (*art)["chains"].push_back(kChainInput);
  if (cut) {
    (*art)["conntrack_flush"] = peers;
    (*art)["cut_sockets"] = {{"peers", peers}, {"ports", ports}};
  }
  notes->push_back("iptables partition (" + direction + ", " + mode + ") from " +
                   Join(peers, ","));
  return Status::Ok();
}

// Closes this host's established TCP sockets to the peers (ss -K, SOCK_DESTROY), never
// the lockout-guarded ones: the local half of "cut established connections".
Status CutSockets(const json& state, const json& cut) {
  std::vector<std::string> ports = cut.value("ports", std::vector<std::string>{});
  for (const auto& peer_json : cut["peers"]) {
    std::vector<std::string> argv = {"ss", "-K", "-t", "dst", peer_json.get<std::string>()};
    if (!ports.empty()) {
      argv.push_back("and");
      argv.push_back("(");
      for (size_t i = 0; i < ports.size(); ++i) {
        if (i) argv.push_back("or");
        argv.insert(argv.end(), {"sport", "=", ":" + ports[i], "or", "dport", "=", ":" + ports[i]});
      }
      argv.push_back(")");
    }
    for (const auto& g : state["netfilter"]["guards"]) {
      argv.insert(argv.end(), {"and", "not", "(", "dst", g.value("addr", ""), "and", "dport", "=",
                               ":" + std::to_string(g.value("port", 0)), ")"});
    }
    CommandResult r;
    FAULTLINE_RETURN_IF_ERROR(RunCommand(argv, &r));
    if (r.exit_status != 0) {
      return Status::Unavailable("cutting established connections (ss -K) failed: " + r.err);
    }
  }
  return Status::Ok();
}

Status ApplyRules(AgentContext& ctx, json& state, json& art) {
  for (const auto& chain : art.value("chains", json::array())) {
    FAULTLINE_RETURN_IF_ERROR(EnsureChain(ctx.store, state, chain.get<std::string>()));
  }
  FAULTLINE_RETURN_IF_ERROR(AddRules(art["rules"]));
  if (art.contains("conntrack_flush")) {
    for (const auto& peer : art["conntrack_flush"]) {
      // Exit status 1 means "no entries": nothing to flush is fine.
      for (const char* side : {"-s", "-d"}) {
        CommandResult r;
        FAULTLINE_RETURN_IF_ERROR(RunCommand({"conntrack", "-D", side, peer.get<std::string>()}, &r));
      }
    }
  }
  if (art.contains("cut_sockets")) FAULTLINE_RETURN_IF_ERROR(CutSockets(state, art["cut_sockets"]));
  return Status::Ok();
}

int FreeQueue(const json& state) {
  std::set<int> used;
  for (const auto& f : state["faults"]) {
    if (f.contains("artefacts")) used.insert(f["artefacts"].value("queue", -1));
  }
  for (int q = 0xFA00; q <= 0xFAFF; ++q) {
    if (!used.count(q)) return q;
  }
  return -1;
}

Status PlanDelay(AgentContext& ctx, const json& state, const std::string& action, const json& p,
                 const std::string& tag, json* art, std::vector<std::string>* notes) {
  NetemSpec spec;
  FAULTLINE_RETURN_IF_ERROR(GetMicros(p, "latency", &spec.latency_us));
  FAULTLINE_RETURN_IF_ERROR(GetMicros(p, "jitter", &spec.jitter_us));
  FAULTLINE_RETURN_IF_ERROR(GetFraction(p, "correlation", &spec.correlation));
  FAULTLINE_RETURN_IF_ERROR(GetFraction(p, "loss", &spec.loss));
  if (action == "network.delay" && spec.latency_us == 0) {
    return Status::Invalid("network.delay needs 'latency'");
  }
  if (action == "network.loss" && spec.loss <= 0) return Status::Invalid("network.loss needs 'loss'");
  if (spec.jitter_us > spec.latency_us && spec.latency_us > 0) {
    notes->push_back("jitter larger than latency: delays below zero are clipped to zero");
  }
  std::string device, protocol;
  std::vector<std::string> peers, ports;
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "device", &device, false));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "protocol", &protocol, false));
  FAULTLINE_RETURN_IF_ERROR(GetStringList(p, "peers", &peers));
  FAULTLINE_RETURN_IF_ERROR(GetPorts(p, &ports));
  for (const auto& peer : peers) FAULTLINE_RETURN_IF_ERROR(CheckAddress(peer));
  if (!device.empty()) {
    int ifindex = 0;
    FAULTLINE_RETURN_IF_ERROR(DeviceIndex(device, &ifindex));
  }
  if (protocol.empty()) protocol = ports.empty() ? "all" : "tcp";
  if (protocol != "all" && protocol != "tcp" && protocol != "udp") {
    return Status::Invalid("protocol must be tcp, udp or all (got '" + protocol + "')");
  }
  (*art)["spec"] = {{"latency_us", spec.latency_us}, {"jitter_us", spec.jitter_us},
                    {"correlation", spec.correlation}, {"loss", spec.loss}};
  bool whole_device = peers.empty() && ports.empty() && !device.empty();
  if (ctx.features.netem && whole_device) {
    (*art)["qdisc"] = {{"device", device}, {"handle", kNetemHandle}};
    notes->push_back("tc netem on " + device);
    return Status::Ok();
  }
  if (!ctx.features.nfqueue && ctx.features.iptables.empty()) {
    return Status::Unavailable("neither sch_netem nor NFQUEUE is available on this host");
  }
  int queue = FreeQueue(state);
  if (queue < 0) return Status::Unavailable("all faultline NFQUEUE numbers are in use");
  (*art)["queue"] = queue;
  json rules = json::array();
  std::vector<std::string> targets = peers.empty() ? std::vector<std::string>{""} : peers;
  for (const auto& peer : targets) {
    std::vector<std::string> m;
    if (!device.empty()) m.insert(m.end(), {"-o", device});
    if (!peer.empty()) m.insert(m.end(), {"-d", peer});
    if (protocol != "all") {
      m.insert(m.end(), {"-p", protocol});
      if (!ports.empty()) m.insert(m.end(), {"-m", "multiport", "--ports", Join(ports, ",")});
    }
    auto c = Comment(tag);
    m.insert(m.end(), c.begin(), c.end());
    m.insert(m.end(), {"-j", "NFQUEUE", "--queue-num", std::to_string(queue), "--queue-bypass"});
    rules.push_back(MakeRule("mangle", kChainPost, m));
  }
  (*art)["rules"] = rules;
  (*art)["chains"] = json::array({kChainPost});
  notes->push_back(std::string(ctx.features.netem ? "per-peer selection" : "sch_netem missing") +
                   ": NFQUEUE delayer used (queue " + std::to_string(queue) + ")");
  return Status::Ok();
}

bool QueueBound(int queue) {
  std::string text;
  if (!ReadFile("/proc/net/netfilter/nfnetlink_queue", &text).ok()) return false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    int q = -1;
    f >> q;
    if (q == queue) return true;
  }
  return false;
}

Status ApplyDelay(AgentContext& ctx, json& state, json& record) {
  json& art = record["artefacts"];
  const json& s = art["spec"];
  if (art.contains("qdisc")) {
    NetemSpec spec;
    spec.latency_us = s.value("latency_us", 0u);
    spec.jitter_us = s.value("jitter_us", 0u);
    spec.correlation = s.value("correlation", 0.0);
    spec.loss = s.value("loss", 0.0);
    return AddNetem(art["qdisc"]["device"], spec);
  }
  int queue = art["queue"];
  if (!(art.contains("delayer") && SameProcess(ToId(art["delayer"])))) {
    std::random_device rd;
    pid_t pid = 0;
    FAULTLINE_RETURN_IF_ERROR(SpawnDetached(
        {ctx.self_exe, "delayer", "--state-dir", ctx.store.dir(), "--run", record["run"],
         "--fault", record["fault"], "--queue", std::to_string(queue), "--latency-us",
         std::to_string(s.value("latency_us", 0u)), "--jitter-us",
         std::to_string(s.value("jitter_us", 0u)), "--correlation",
         std::to_string(s.value("correlation", 0.0)), "--loss",
         std::to_string(s.value("loss", 0.0)), "--seed", std::to_string(rd())},
        &pid));
    art["delayer"] = {{"pid", pid}, {"start", ProcessStartTime(pid).value_or(0)}};
    FAULTLINE_RETURN_IF_ERROR(ctx.store.Save(state));
  }
  // Rules only once the queue has its listener; until then (and with --queue-bypass
  // should it ever die) the traffic simply flows.
  for (int i = 0; i < 200 && !QueueBound(queue); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!QueueBound(queue)) return Status::Unavailable("the NFQUEUE delayer did not bind queue " + std::to_string(queue));
  return ApplyRules(ctx, state, art);
}

Status PlanRate(const json& p, json* art, std::vector<std::string>* notes) {
  std::string device, rate_text, burst_text;
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "device", &device, true));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "rate", &rate_text, true));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "burst", &burst_text, false));
  int ifindex = 0;
  FAULTLINE_RETURN_IF_ERROR(DeviceIndex(device, &ifindex));
  uint64_t rate = 0;
  FAULTLINE_RETURN_IF_ERROR(ParseRate(rate_text, &rate));
  uint64_t burst = 0;
  if (!burst_text.empty()) {
    std::string why;
    auto b = ParseBytes(burst_text, &why);
    if (!b) return Status::Invalid("parameter 'burst': " + why);
    burst = *b;
  }
  uint32_t latency = 50000;
  FAULTLINE_RETURN_IF_ERROR(GetMicros(p, "latency", &latency));
  (*art)["qdisc"] = {{"device", device}, {"handle", kTbfHandle}};
  (*art)["tbf"] = {{"rate", rate}, {"burst", burst}, {"latency_us", latency}};
  notes->push_back("tc tbf on " + device + " at " + rate_text);
  return Status::Ok();
}

Status PlanDiskFill(const json& p, const json& record, json* art, std::vector<std::string>* notes) {
  std::string path, free_text;
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "path", &path, true));
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "free", &free_text, true));
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0) {
    return Status::NotFound("disk.fill path " + path + ": " + std::strerror(errno));
  }
  unsigned long long total = static_cast<unsigned long long>(vfs.f_blocks) * vfs.f_frsize;
  unsigned long long target = 0;
  std::string why;
  if (!free_text.empty() && free_text.back() == '%') {
    auto pct = ParsePercent(free_text, &why);
    if (!pct) return Status::Invalid("parameter 'free': " + why);
    target = static_cast<unsigned long long>(*pct * static_cast<double>(total));
  } else {
    auto b = ParseBytes(free_text, &why);
    if (!b) return Status::Invalid("parameter 'free': " + why);
    target = *b;
  }
  std::string dir = path;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) dir = path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  std::string file = dir + "/.faultline-fill-" + record.value("run", "") + "-" + record.value("fault", "");
  // Run and fault names come from drills: never let one name another directory.
  for (size_t i = file.rfind('/') + 1; i < file.size(); ++i) {
    char c = file[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) file[i] = '_';
  }
  (*art)["file"] = file;
  (*art)["target_free"] = target;
  notes->push_back("filling the filesystem of " + path + " until " + std::to_string(target) +
                   " bytes are free");
  return Status::Ok();
}

Status ApplyDiskFill(json& art, std::string* detail) {
  std::string file = art["file"];
  unsigned long long target = art["target_free"];
  struct statvfs vfs;
  std::string dir = file.substr(0, file.rfind('/'));
  if (statvfs(dir.empty() ? "/" : dir.c_str(), &vfs) != 0) {
    return Status::Unavailable("statvfs " + dir + ": " + std::strerror(errno));
  }
  if (access(file.c_str(), F_OK) == 0) {
    *detail = "fill file already present";
    return Status::Ok();
  }
  unsigned long long avail = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
  if (avail <= target) {
    *detail = "already only " + std::to_string(avail) + " bytes free; nothing filled";
    return Status::Ok();
  }
  unsigned long long size = avail - target;
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot create " + file + ": " + std::strerror(errno));
  int rc = fallocate(fd, 0, 0, static_cast<off_t>(size));
  if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
    // Filesystems without fallocate: write real blocks.
    static char zeros[1 << 16];
    unsigned long long done = 0;
    rc = 0;
    while (done < size) {
      ssize_t n = write(fd, zeros, std::min<unsigned long long>(sizeof zeros, size - done));
      if (n <= 0) {
        rc = -1;
        break;
      }
      done += n;
    }
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    unlink(file.c_str());
    return Status::Unavailable("cannot allocate " + std::to_string(size) + " bytes in " + file +
                               ": " + std::strerror(e));
  }
  fsync(fd);
  close(fd);
  *detail = "allocated " + std::to_string(size) + " bytes in " + file;
  return Status::Ok();
}

Status PlanService(AgentContext& ctx, const std::string& action, const json& p, json* art,
                   std::vector<std::string>* notes) {
  std::string name;
  FAULTLINE_RETURN_IF_ERROR(GetString(p, "service", &name, false));
  bool have_cmds = p.contains("stop") && p.contains("start");
  if (ctx.features.systemd && !name.empty() && !p.value("use_commands", false)) {
    (*art)["stop"] = {"systemctl", "stop", name};
    (*art)["start"] = {"systemctl", "start", name};
    notes->push_back("systemctl " + std::string(action == "service.stop" ? "stop " : "start ") + name);
  } else if (have_cmds) {
    (*art)["stop"] = p["stop"];
    (*art)["start"] = p["start"];
    notes->push_back("inventory commands for service " + (name.empty() ? "?" : name));
  } else {
    return Status::Invalid(std::string(ctx.features.systemd ? "" : "systemd is not running here; ") +
                           "service '" + name + "' needs 'start' and 'stop' commands in the inventory");
  }
  return Status::Ok();
}

// ---- dispatch -----------------------------------------------------------------------

Status Plan(AgentContext& ctx, const json& state, json& record, std::vector<std::string>* notes) {
  const std::string action = record["action"];
  const json& p = record["params"];
  json art = json::object();
  std::string tag = Tag(record);
  if (action == "network.partition") {
    FAULTLINE_RETURN_IF_ERROR(PlanPartition(p, tag, &art, notes));
  } else if (action == "network.delay" || action == "network.loss") {
    FAULTLINE_RETURN_IF_ERROR(PlanDelay(ctx, state, action, p, tag, &art, notes));
  } else if (action == "network.rate") {
    FAULTLINE_RETURN_IF_ERROR(PlanRate(p, &art, notes));
  } else if (action == "process.pause" || action == "process.resume" || action == "process.kill") {
    json procs;
    FAULTLINE_RETURN_IF_ERROR(FindProcesses(p, &procs));
    art["processes"] = procs;
    std::string sig = action == "process.pause" ? "STOP" : action == "process.resume" ? "CONT" : "KILL";
    FAULTLINE_RETURN_IF_ERROR(GetString(p, "signal", &sig, false));
    if (action == "process.kill") {
      if (!SignalNumber(sig)) return Status::Invalid("unknown signal '" + sig + "'");
      if (p.contains("restart")) art["restart"] = p["restart"];
      std::string service;
      FAULTLINE_RETURN_IF_ERROR(GetString(p, "service", &service, false));
      if (!art.contains("restart") && !service.empty() && ctx.features.systemd) {
        art["restart"] = {"systemctl", "start", service};
      }
    }
    art["signal"] = sig;
    notes->push_back("SIG" + sig + " to " + std::to_string(procs.size()) + " process(es)");
  } else if (action == "service.stop" || action == "service.start") {
    FAULTLINE_RETURN_IF_ERROR(PlanService(ctx, action, p, &art, notes));
  } else if (action == "disk.fill") {
    FAULTLINE_RETURN_IF_ERROR(PlanDiskFill(p, record, &art, notes));
  } else {
    return Status::Invalid("the agent has no action '" + action + "'");
  }
  record["artefacts"] = art;
  return Status::Ok();
}

Status Apply(AgentContext& ctx, json& state, json& record, std::string* detail) {
  const std::string action = record["action"];
  json& art = record["artefacts"];
  if (action == "network.partition") return ApplyRules(ctx, state, art);
  if (action == "network.delay" || action == "network.loss") return ApplyDelay(ctx, state, record);
  if (action == "network.rate") {
    TbfSpec spec;
    spec.rate_bytes_per_s = art["tbf"]["rate"];
    spec.burst_bytes = art["tbf"]["burst"];
    spec.latency_us = art["tbf"]["latency_us"];
    return AddTbf(art["qdisc"]["device"], spec);
  }
  if (action.rfind("process.", 0) == 0) {
    int sig = SignalNumber(art["signal"]);
    int n = SignalRecorded(art["processes"], sig);
    if (n == 0) return Status::NotFound("every matched process exited before it was signalled");
    *detail = "SIG" + art["signal"].get<std::string>() + " sent to " + std::to_string(n) + " process(es)";
    return Status::Ok();
  }
  if (action == "service.stop") return RunArgv(art["stop"], "service stop");
  if (action == "service.start") return RunArgv(art["start"], "service start");
  if (action == "disk.fill") return ApplyDiskFill(art, detail);
  return Status::Internal("no apply for " + action);
}

}  // namespace

Status RevertRecord(AgentContext& /*ctx*/, json& state, json& record, std::string* detail) {
  (void)state;
  const std::string action = record.value("action", "");
  if (!record.contains("artefacts")) return Status::Ok();  // planned, never applied
  json& art = record["artefacts"];
  Status result;
  auto keep_first = [&](Status st) {
    if (!st.ok() && result.ok()) result = st;
  };
  if (art.contains("rules")) keep_first(DeleteRules(art["rules"]));
  if (art.contains("delayer")) {
    ProcessId id = ToId(art["delayer"]);
    if (SameProcess(id)) {
      kill(id.pid, SIGTERM);
      for (int i = 0; i < 100 && SameProcess(id); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (SameProcess(id)) kill(id.pid, SIGKILL);
    }
  }
  if (art.contains("qdisc")) {
    bool removed = false;
    keep_first(DeleteRootQdisc(art["qdisc"]["device"], art["qdisc"]["handle"], &removed));
  }
  if (action == "process.pause") {
    int n = SignalRecorded(art["processes"], SIGCONT);
    *detail = "SIGCONT sent to " + std::to_string(n) + " process(es)";
  }
  if (action == "process.kill" && art.contains("restart") && record.value("applied", false)) {
    keep_first(RunArgv(art["restart"], "restart after kill"));
    *detail = "restarted";
  }
  if (action == "service.stop" && record.value("applied", false)) {
    keep_first(RunArgv(art["start"], "service start"));
    *detail = "service started again";
  }
  if (art.contains("file")) {
    std::string file = art["file"];
    if (unlink(file.c_str()) != 0 && errno != ENOENT) {
      keep_first(Status::Unavailable("cannot delete " + file + ": " + std::strerror(errno)));
    }
  }
  return result;
}

Status RevertAll(AgentContext& ctx, json& state, const std::string& run, json* reverted) {
  Status first;
  json faults = state["faults"];
  for (auto& record : faults) {
    if (!run.empty() && record.value("run", "") != run) continue;
    std::string detail;
    Status st = RevertRecord(ctx, state, record, &detail);
    if (st.ok()) {
      RemoveFault(state, record["run"], record["fault"]);
      if (reverted) reverted->push_back(record["run"].get<std::string>() + ":" + record["fault"].get<std::string>());
    } else {
      if (first.ok()) first = st.Annotate(record.value("fault", "?"));
      if (auto* rec = FindFault(state, record["run"], record["fault"])) (*rec)["revert_error"] = st.message();
    }
    FAULTLINE_RETURN_IF_ERROR(ctx.store.Save(state));
  }
  if (run.empty()) {
    state["leases"] = json::object();
  } else {
    bool left = false;
    for (const auto& f : state["faults"]) left |= f.value("run", "") == run;
    if (!left) state["leases"].erase(run);
  }
  Status chains = DropUnusedChains(ctx.store, state);
  if (first.ok()) first = chains;
  FAULTLINE_RETURN_IF_ERROR(ctx.store.Save(state));
  return first;
}

json HandleRequest(AgentContext& ctx, const json& req) {
  json id = req.contains("id") ? req["id"] : json(nullptr);
  std::string op = req.value("op", "");
  std::unique_ptr<StateStore::Guard> lock;
  Status st = ctx.store.Lock(&lock);
  json state;
  if (st.ok()) st = ctx.store.Load(&state);
  if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
  json resp = {{"id", id}, {"ok", true}};
  std::string run = req.value("run", "");
  std::string fault = req.value("fault", "");

  if (op == "inject") {
    if (run.empty() || fault.empty() || !req.contains("action")) {
      return agent_protocol::ErrorResponse(id, Status::Invalid("inject needs run, fault and action"));
    }
    if (json* existing = FindFault(state, run, fault)) {
      if (existing->value("applied", false)) {
        resp["detail"] = "already applied";
        resp["notes"] = existing->value("notes", json::array());
        Status ls = EnsureLease(ctx, state, run, req.value("lease_ms", 0));
        if (!ls.ok()) return agent_protocol::ErrorResponse(id, ls);
        return resp;
      }
      // Planned but never confirmed (the agent died mid-way): undo what may exist first.
      std::string ignored;
      json copy = *existing;
      RevertRecord(ctx, state, copy, &ignored);
      RemoveFault(state, run, fault);
    }
    json record = {{"run", run}, {"fault", fault}, {"action", req["action"]},
                   {"params", req.value("params", json::object())}, {"applied", false}};
    std::vector<std::string> notes;
    st = Plan(ctx, state, record, &notes);
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st.Annotate(req["action"].get<std::string>()));
    record["notes"] = notes;
    st = EnsureLease(ctx, state, run, req.value("lease_ms", 0));
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    state["faults"].push_back(record);
    st = ctx.store.Save(state);  // recorded before anything is applied
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    json* rec = FindFault(state, run, fault);
    std::string detail;
    st = Apply(ctx, state, *rec, &detail);
    if (!st.ok()) {
      std::string ignored;
      RevertRecord(ctx, state, *rec, &ignored);
      RemoveFault(state, run, fault);
      DropUnusedChains(ctx.store, state);
      ctx.store.Save(state);
      return agent_protocol::ErrorResponse(id, st.Annotate(req["action"].get<std::string>()));
    }
    rec = FindFault(state, run, fault);
    (*rec)["applied"] = true;
    (*rec)["detail"] = detail;
    st = ctx.store.Save(state);
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    resp["detail"] = detail.empty() ? Join(notes, "; ") : detail;
    resp["notes"] = notes;
    return resp;
  }
  if (op == "revert") {
    json* rec = FindFault(state, run, fault);
    if (!rec) {
      resp["detail"] = "not held";
      return resp;
    }
    std::string detail;
    json copy = *rec;
    st = RevertRecord(ctx, state, copy, &detail);
    if (!st.ok()) {
      (*rec)["revert_error"] = st.message();
      ctx.store.Save(state);
      return agent_protocol::ErrorResponse(id, st);
    }
    RemoveFault(state, run, fault);
    bool left = false;
    for (const auto& f : state["faults"]) left |= f.value("run", "") == run;
    if (!left) state["leases"].erase(run);
    st = DropUnusedChains(ctx.store, state);
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    resp["detail"] = detail.empty() ? "reverted" : detail;
    return resp;
  }
  if (op == "renew") {
    int lease_ms = req.value("lease_ms", agent_protocol::kDefaultLeaseMs);
    bool held = false;
    for (const auto& f : state["faults"]) held |= f.value("run", "") == run;
    if (held) {
      st = EnsureLease(ctx, state, run, lease_ms);
      if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    }
    resp["held"] = held;
    return resp;
  }
  if (op == "list") {
    json faults = json::array();
    long long now = MonotonicMs();
    for (const auto& f : state["faults"]) {
      json item = {{"run", f["run"]}, {"fault", f["fault"]}, {"action", f["action"]},
                   {"applied", f.value("applied", false)}, {"notes", f.value("notes", json::array())}};
      if (state["leases"].contains(f.value("run", ""))) {
        item["lease_left_ms"] = state["leases"][f.value("run", "")].value("expires_ms", 0ll) - now;
      }
      if (f.contains("revert_error")) item["revert_error"] = f["revert_error"];
      faults.push_back(item);
    }
    resp["faults"] = faults;
    return resp;
  }
  if (op == "cleanup") {
    json reverted = json::array();
    st = RevertAll(ctx, state, run, &reverted);
    resp["reverted"] = reverted;
    if (!st.ok()) {
      json err = agent_protocol::ErrorResponse(id, st);
      err["reverted"] = reverted;
      return err;
    }
    resp["detail"] = "reverted " + std::to_string(reverted.size()) + " fault(s)";
    return resp;
  }
  if (op == "guard") {
    json guard = {{"addr", req.value("addr", "")}, {"port", req.value("port", 0)},
                  {"local_port", req.value("local_port", 0)}};
    st = AddGuard(ctx.store, state, guard);
    if (!st.ok()) return agent_protocol::ErrorResponse(id, st);
    return resp;
  }
  if (op == "hello" || op == "ping") return resp;
  return agent_protocol::ErrorResponse(
      id, Status::Invalid("unknown op '" + op + "' (inject, revert, renew, list, cleanup, guard)"));
}

int RunWatchdog(AgentContext& ctx, const std::string& run) {
  pid_t self = getpid();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::unique_ptr<StateStore::Guard> lock;
    json state;
    if (!ctx.store.Lock(&lock).ok() || !ctx.store.Load(&state).ok()) continue;
    if (!state["leases"].contains(run)) return 0;
    json& lease = state["leases"][run];
    // A newer watchdog took over (this one was presumed dead): leave it the job.
    if (lease.contains("watchdog") && lease["watchdog"].value("pid", 0) != self) return 0;
    bool held = false;
    for (const auto& f : state["faults"]) held |= f.value("run", "") == run;
    if (!held) {
      state["leases"].erase(run);
      ctx.store.Save(state);
      return 0;
    }
    if (MonotonicMs() < lease.value("expires_ms", 0ll)) continue;
    Status st = RevertAll(ctx, state, run, nullptr);
    if (st.ok()) return 0;
    // Something would not revert: keep the lease expired and try again shortly, so a
    // transient failure (xtables lock, busy device) does not leave the fault behind.
    state["leases"][run] = {{"expires_ms", 0}, {"lease_ms", 0},
                            {"watchdog", {{"pid", self}, {"start", ProcessStartTime(self).value_or(0)}}}};
    ctx.store.Save(state);
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
  }
}

}  // namespace faultline::agent

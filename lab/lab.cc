#include "lab/lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/shell.h"
#include "lab/inventory_writer.h"
#include "lab/supervisor.h"
#include "lab/sys.h"

namespace faultline::lab {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kZkClientPort = 2181;
const char* const kSshd = "/usr/sbin/sshd";

void Progress(const std::string& line) { std::fprintf(stderr, "lab: %s\n", line.c_str()); }

std::string StatePath(const std::string& dir) { return dir + "/state.json"; }

// The lab's record of what it made. Saved (atomically) before each thing is made.
class State {
 public:
  explicit State(std::string dir) : dir_(std::move(dir)) {}
  json& j() { return j_; }
  const std::string& dir() const { return dir_; }
  Status Save() { return WriteFileAtomic(StatePath(dir_), j_.dump(2) + "\n", 0600); }
  bool Load() {
    std::string text = ReadFileOr(StatePath(dir_));
    if (text.empty()) return false;
    try {
      j_ = json::parse(text);
    } catch (...) {
      return false;
    }
    return j_.is_object();
  }
  Status AddProcess(const std::string& host, const std::string& what, pid_t pid) {
    j_["processes"].push_back({{"host", host}, {"what", what}, {"pid", pid}, {"start", ProcessStartTime(pid)}});
    return Save();
  }

 private:
  std::string dir_;
  json j_ = json::object();
};

// One `up` or `down` at a time per state directory.
class LabLock {
 public:
  ~LabLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& state_dir) {
    path_ = state_dir + ".lock";
    fs::create_directories(fs::path(state_dir).parent_path());
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::Unavailable("cannot open " + path_ + ": " + std::strerror(errno));
    // Children of a killed `up` (a daemon between fork and exec) may hold the lock for a
    // moment after it died; a real `up` or `down` at work holds it much longer.
    for (int i = 0; i < 150; ++i) {
      if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status::Unavailable("another `faultline lab` is working on " + state_dir + " right now (" +
                               path_ + " is locked); wait for it to finish");
  }
  void Remove() { ::unlink(path_.c_str()); }

 private:
  int fd_ = -1;
  std::string path_;
};

bool LinkExists(const std::string& name) { return PathExists("/sys/class/net/" + name); }
bool NetnsExists(const std::string& name) { return PathExists("/run/netns/" + name); }

bool IsMounted(const std::string& dir) {
  std::istringstream in(ReadFileOr("/proc/self/mounts"));
  std::string dev, mnt, rest;
  while (in >> dev >> mnt && std::getline(in, rest)) {
    if (mnt == dir) return true;
  }
  return false;
}

Status CheckRoot() {
  if (::geteuid() != 0) {
    return Status::Invalid("faultline lab needs root: it creates network namespaces, a bridge, veth pairs "
                           "and tmpfs mounts (run it with sudo)");
  }
  return Status::Ok();
}

// Debian packages behind what the lab runs, for the error a user sees when one is missing.
Status NeedProgram(const std::string& program, const std::string& package, std::string* path = nullptr) {
  std::string found = program[0] == '/' ? (PathExists(program) ? program : "") : FindProgram(program);
  if (found.empty()) {
    return Status::Invalid("the lab needs " + program + ", which is missing: apt-get install -y " + package +
                           " (or run scripts/install-deps)");
  }
  if (path) *path = found;
  return Status::Ok();
}

// zookeeper.jar's manifest names Jetty but not the servlet API, without which ZooKeeper starts
// no AdminServer ("Unable to load jetty"); Apache's own distribution ships it in lib/.
const char* const kZkJars[] = {"/usr/share/java/zookeeper.jar", "/usr/share/java/servlet-api.jar",
                               "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"};
const char* const kZkJarPackages[] = {"zookeeper", "libservlet-api-java", "libslf4j-java", "liblog4j1.2-java"};

std::string ZooCfg(const json& st, const json& host) {
  std::string cfg =
      "# Written by faultline lab; read by Apache ZooKeeper and quorumd alike.\n"
      "tickTime=2000\n"
      "initLimit=10\n"
      "syncLimit=5\n"
      "dataDir=" + host["data_dir"].get<std::string>() + "/zookeeper\n"
      "clientPort=" + std::to_string(kZkClientPort) + "\n"
      "clientPortAddress=" + host["ip"].get<std::string>() + "\n"
      "maxClientCnxns=0\n"
      "autopurge.purgeInterval=1\n";
  for (const auto& h : st["hosts"]) {
    if (h["group"] != "zookeeper") continue;
    cfg += "server." + std::to_string(h["zk_id"].get<int>()) + "=" + h["ip"].get<std::string>() +
           ":2888:3888\n";
  }
  return cfg;
}

const char kLog4j[] =
    "# ZooKeeper's log goes to stdout, which the supervisor appends to logs/zookeeper.log.\n"
    "log4j.rootLogger=INFO, CONSOLE\n"
    "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
    "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
    "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n\n";

std::string SshdConfig(const std::string& state_dir, const json& host) {
  const std::string dir = host["dir"];
  return "# Written by faultline lab for host " + host["name"].get<std::string>() + ".\n"
         "ListenAddress " + host["ip"].get<std::string>() + ":22\n"
         "HostKey " + dir + "/ssh_host_ed25519_key\n"
         "AuthorizedKeysFile " + state_dir + "/ssh/authorized_keys\n"
         "PidFile none\n"
         "StrictModes no\n"
         "UsePAM no\n"
         "PermitRootLogin prohibit-password\n"
         "PasswordAuthentication no\n"
         "KbdInteractiveAuthentication no\n"
         "AllowTcpForwarding yes\n"
         // bash sources ~/.bashrc for commands sshd runs only at shell level 1: the machine's
         // root dotfiles (a pyenv rehash waiting on a stale lock, say) stay out of the lab.
         "SetEnv SHLVL=1\n"
         // The agent's channel and parallel probes share one connection per host.
         "MaxSessions 64\n"
         "MaxStartups 64\n"
         "Subsystem sftp internal-sftp\n";
}

bool TcpReachable(const std::string& ip, int port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      ok = err == 0;
    }
  }
  ::close(fd);
  return ok;
}

// Addresses and routes already on this machine that overlap the lab's subnet.
std::string SubnetConflict(const Ipv4Net& subnet) {
  RunResult r;
  if (Run({"ip", "-o", "-4", "addr", "show"}, &r).ok()) {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string idx, dev, family, cidr;
      f >> idx >> dev >> family >> cidr;
      Ipv4Net n;
      if (family == "inet" && ParseIpv4Net(cidr, &n) && n.Overlaps(subnet)) return cidr + " on " + dev;
    }
  }
  if (Run({"ip", "-o", "-4", "route", "show", "table", "all"}, &r).ok()) {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string first;
      f >> first;
      if (first == "local" || first == "broadcast" || first == "unreachable" || first == "blackhole") f >> first;
      Ipv4Net n;
      if (first != "default" && ParseIpv4Net(first, &n) && n.prefix > 0 && n.Overlaps(subnet)) {
        return "route " + line.substr(0, line.find(" proto"));
      }
    }
  }
  return "";
}

// Bridged traffic passes the host's FORWARD chain when br_netfilter is active; only then,
// and only if that chain would drop it, the lab adds an ACCEPT for its own bridge.
std::vector<std::string> ForwardRule(const std::string& bridge) {
  return {"FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", "faultline-lab:" + bridge, "-j", "ACCEPT"};
}

bool ForwardRuleNeeded() {
  if (ReadFileOr("/proc/sys/net/bridge/bridge-nf-call-iptables", "0").substr(0, 1) != "1") return false;
  RunResult r;
  if (!Run({"iptables", "-S", "FORWARD"}, &r).ok() || r.status != 0) return false;
  return r.out.find("-P FORWARD ACCEPT") == std::string::npos;
}

// The hosts of `group`, in order.
std::vector<json> GroupHosts(const json& st, const std::string& group) {
  std::vector<json> out;
  for (const auto& h : st["hosts"]) if (h["group"] == group) out.push_back(h);
  return out;
}

int ServicePort(const json& host, const std::string& service, int fallback) {
  for (const auto& s : host["services"]) if (s["name"] == service) return s.value("port", fallback);
  return fallback;
}

std::string Addr(const json& host, int port) { return host["ip"].get<std::string>() + ":" + std::to_string(port); }

// A service of services/ (fl-svc MODE --flags), bound to the host's own address and a
// client of the lab's ensemble. Its log is the file the supervisor appends to as well.
std::vector<std::string> FlSvcArgv(const std::string& program, const json& st, const json& host, const json& svc,
                                   const LabTopology& topo) {
  const std::string name = svc["name"], ip = host["ip"], hdir = host["dir"];
  const std::string log = hdir + "/logs/" + name + ".log";
  const std::string zk = st["zk_connect"];
  const int port = svc.value("port", 0);
  std::vector<std::string> a = {program, name};
  if (name == "namenode") {
    // The shared edits directory of the pair (what a QJM or NFS mount is in production).
    a.insert(a.end(), {"--id", host["name"], "--http", Addr(host, port), "--shared-dir",
                       st["state_dir"].get<std::string>() + "/shared/hdfs-" + topo.hdfs_nameservice});
  } else if (name == "zkfc") {
    // Fencing as most production configs end: the elector's breadcrumb and graceful
    // transition do the work, shell(/bin/true) closes the list.
    a.insert(a.end(), {"--id", host["name"], "--nameservice", topo.hdfs_nameservice, "--zk", zk, "--nn",
                       Addr(host, ServicePort(host, "namenode", 8020)), "--zkfc-port", std::to_string(port)});
  } else if (name == "resourcemanager") {
    a.insert(a.end(), {"--id", host["name"], "--cluster", topo.yarn_cluster_id, "--zk", zk, "--http", Addr(host, port)});
  } else if (name == "hmaster") {
    a.insert(a.end(), {"--host", ip, "--bind", ip, "--port", std::to_string(port), "--zk", zk, "--parent",
                       topo.hbase_znode_parent});
  } else if (name == "regionserver") {
    a.insert(a.end(), {"--host", ip, "--bind", ip, "--port", std::to_string(port), "--zk", zk, "--parent",
                       topo.hbase_znode_parent, "--data-dir", host["data_dir"].get<std::string>() + "/hbase"});
  } else if (name == "kafka") {
    const size_t brokers = GroupHosts(st, host["group"]).size();
    std::string topics;
    for (const auto& t : topo.kafka_topics) {
      topics += (topics.empty() ? "" : ",") + t + ":3:" + std::to_string(std::min<size_t>(3, brokers));
    }
    a.insert(a.end(), {"--id", std::to_string(host["index"].get<int>()), "--host", ip, "--bind", ip, "--port",
                       std::to_string(port), "--zk", zk, "--data-dir", host["data_dir"].get<std::string>() + "/kafka",
                       "--topics", topics});
  }
  a.insert(a.end(), {"--log", log});
  if (name == "zkfc") a.insert(a.end(), {"--", "/bin/true"});
  return a;
}

// Any other program reads one JSON file with everything it needs (docs/lab.md).
Status WriteServiceConfig(const json& st, const json& host, const json& svc, const LabTopology& topo,
                          std::vector<std::string>* args) {
  const std::string hdir = host["dir"];
  json cfg = {{"service", svc["name"]}, {"host", host["name"]}, {"ip", host["ip"]}, {"index", host["index"]},
              {"port", svc["port"]}, {"zk_connect", st["zk_connect"]}, {"data_dir", host["data_dir"]},
              {"log_dir", hdir + "/logs"}, {"hdfs_nameservice", topo.hdfs_nameservice},
              {"yarn_cluster_id", topo.yarn_cluster_id}, {"kafka_topics", topo.kafka_topics},
              {"hbase_znode_parent", topo.hbase_znode_parent}, {"group", host["group"]}};
  json peers = json::object();
  for (const auto& p : GroupHosts(st, host["group"])) peers[p["name"].get<std::string>()] = p["ip"];
  cfg["peers"] = peers;
  const std::string path = hdir + "/conf/" + svc["name"].get<std::string>() + ".json";
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(path, cfg.dump(2) + "\n"));
  *args = {"--config", path};
  return Status::Ok();
}

// The inventory variables the probes of checks/ read for this host's services.
json ProbeVars(const std::string& fl_svc, const json& st, const json& host, const LabTopology& topo) {
  json v = json::object();
  const std::string group = host["group"];
  if (group == "namenode") {
    v["hdfs_namenode_id"] = host["name"];
    v["hdfs_namenode_address"] = Addr(host, ServicePort(host, "namenode", 8020));
  } else if (group == "resourcemanager") {
    v["yarn_rm_id"] = host["name"];
  } else if (group == "hbase_master" || group == "hbase_rs") {
    v["hbase_hostname"] = host["ip"];
    v["hbase_port"] = ServicePort(host, group == "hbase_master" ? "hmaster" : "regionserver", 0);
  } else if (group == "kafka") {
    v["kafka_broker_id"] = host["index"];
  }
  if (fl_svc.empty()) return v;
  if (group == "namenode") {
    json haadmin = {fl_svc, "haadmin"}, rw = {fl_svc, "client", "hdfs"};
    for (const auto& nn : GroupHosts(st, "namenode")) {
      const std::string addr = Addr(nn, ServicePort(nn, "namenode", 8020));
      haadmin.push_back("--nn");
      haadmin.push_back(nn["name"].get<std::string>() + "=" + addr);
      rw.push_back("--nn");
      rw.push_back(addr);
    }
    haadmin.push_back("-getAllServiceState");
    v["hdfs_haadmin_command"] = haadmin;
    v["hdfs_rw_command"] = rw;
  } else if (group == "hbase_master" || group == "hbase_rs") {
    v["hbase_rw_command"] = {fl_svc, "client", "hbase", "--zk", st["zk_connect"], "--parent", topo.hbase_znode_parent};
  } else if (group == "kafka") {
    json rw = {fl_svc, "client", "kafka"};
    for (const auto& b : GroupHosts(st, "kafka")) {
      rw.push_back("--bootstrap");
      rw.push_back(Addr(b, ServicePort(b, "kafka", 9092)));
    }
    if (!topo.kafka_topics.empty()) {
      rw.push_back("--topic");
      rw.push_back(topo.kafka_topics[0]);
    }
    v["kafka_rw_command"] = rw;
  }
  return v;
}

std::string Timestamp() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

Status DownLocked(State& state, std::vector<std::string>* problems);

}  // namespace

std::string LabInventoryPath(const std::string& state_dir) { return state_dir + "/inventory.yml"; }

std::string ZkModeFromSrvr(const std::string& srvr) {
  auto pos = srvr.find("Mode: ");
  if (pos == std::string::npos) return "";
  auto end = srvr.find('\n', pos);
  std::string mode = srvr.substr(pos + 6, end == std::string::npos ? std::string::npos : end - pos - 6);
  while (!mode.empty() && (mode.back() == '\r' || mode.back() == ' ')) mode.pop_back();
  return mode;
}

Status FourLetterWord(const std::string& address, int port, const std::string& word, std::string* out,
                      std::chrono::milliseconds timeout) {
  out->clear();
  auto deadline = Clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Internal(std::string("socket: ") + std::strerror(errno));
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) return Status::Invalid("not an IPv4 address: " + address);
  const std::string where = address + ":" + std::to_string(port);
  auto left = [&] {
    return static_cast<int>(std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS) return Status::Unavailable(where + ": " + std::strerror(errno));
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left()) != 1) return Status::Timeout(where + ": connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return Status::Unavailable(where + ": " + std::strerror(err));
  }
  if (::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    return Status::Unavailable(where + ": cannot send " + word);
  }
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left()) != 1) return Status::Timeout(where + ": no complete answer to " + word);
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNRESET && !out->empty()) break;
      return Status::Unavailable(where + ": " + std::strerror(errno));
    }
    out->append(buf, static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status LabUp(const LabConfig& config, UpResult* result) {
  *result = UpResult();
  FAULTLINE_RETURN_IF_ERROR(CheckRoot());
  const LabTopology& topo = config.topology;
  FAULTLINE_RETURN_IF_ERROR(ValidateTopology(topo, "topology"));
  if (config.coord != "zookeeper" && config.coord != "quorumd") {
    return Status::Invalid("--coord " + config.coord + ": expected quorumd or zookeeper");
  }
  const std::string dir = fs::absolute(config.state_dir).lexically_normal().string();
  LabLock lock;
  FAULTLINE_RETURN_IF_ERROR(lock.Acquire(dir));

  State state(dir);
  if (state.Load()) {
    if (state.j().value("phase", "") == "up") {
      result->already_up = true;
      result->summary = "the lab in " + dir + " is already up (" + std::to_string(state.j()["hosts"].size()) +
                        " hosts, coord " + state.j().value("coord", "?") + ", since " +
                        state.j().value("created", "?") + "); nothing changed. Inventory: " +
                        LabInventoryPath(dir) + ". `faultline lab down` removes it.";
      return Status::Ok();
    }
    Progress("a previous `lab up` did not finish; removing what it made first");
    std::vector<std::string> problems;
    Status st = DownLocked(state, &problems);
    if (!st.ok()) return st;
  }

  // Preflight: everything is checked before anything is made.
  std::string ip_path, keygen, supervisor, java, quorumd;
  FAULTLINE_RETURN_IF_ERROR(NeedProgram("ip", "iproute2", &ip_path));
  FAULTLINE_RETURN_IF_ERROR(NeedProgram(kSshd, "openssh-server"));
  FAULTLINE_RETURN_IF_ERROR(NeedProgram("ssh-keygen", "openssh-client", &keygen));
  supervisor = FindProgram("faultline-supervisor", "FAULTLINE_SUPERVISOR");
  if (supervisor.empty()) {
    return Status::Invalid("faultline-supervisor not found beside " + SelfDir() +
                           " nor in PATH: build it (cmake --build build --target faultline-supervisor)");
  }
  if (config.coord == "zookeeper") {
    FAULTLINE_RETURN_IF_ERROR(NeedProgram("java", "default-jre-headless", &java));
    for (size_t i = 0; i < std::size(kZkJars); ++i) {
      if (!PathExists(kZkJars[i])) {
        return Status::Invalid(std::string("--coord zookeeper needs ") + kZkJars[i] +
                               ", which is missing: apt-get install -y " + kZkJarPackages[i]);
      }
    }
  } else {
    quorumd = FindProgram("quorumd", "FAULTLINE_QUORUMD");
    if (quorumd.empty()) {
      return Status::Invalid("quorumd is not built (looked beside " + SelfDir() +
                             ", in ../coord and PATH): cmake --build build --target quorumd, or use "
                             "--coord zookeeper");
    }
  }
  const bool forward_rule = ForwardRuleNeeded();
  if (forward_rule) FAULTLINE_RETURN_IF_ERROR(NeedProgram("iptables", "iptables"));
  Ipv4Net net;
  ParseIpv4Net(topo.subnet, &net);
  if (LinkExists(topo.bridge)) {
    return Status::Invalid("bridge " + topo.bridge + " already exists and is not this lab's (no state in " + dir +
                           "): another lab or tool uses it; pick another `bridge:` in a topology file");
  }
  if (std::string c = SubnetConflict(net); !c.empty()) {
    return Status::Invalid("subnet " + topo.subnet + " is already in use here (" + c +
                           "); pick another `subnet:` in a topology file");
  }
  for (const auto& h : topo.AllHosts()) {
    const std::string ns = topo.netns_prefix + h;
    if (NetnsExists(ns) || LinkExists(ns)) {
      return Status::Invalid("network namespace or link " + ns + " already exists and is not this lab's; "
                             "remove it or pick another `netns_prefix:`");
    }
  }

  // The plan, recorded before anything is made.
  const auto t0 = Clock::now();
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  json& j = state.j();
  j = json::object();
  j["phase"] = "building";
  j["owner_pid"] = ::getpid();
  j["created"] = Timestamp();
  j["coord"] = config.coord;
  j["subnet"] = topo.subnet;
  j["bridge"] = topo.bridge;
  j["bridge_cidr"] = Ipv4ToString(net.base + 1) + "/" + std::to_string(net.prefix);
  j["bridge_made"] = false;
  j["hosts"] = json::array();
  j["processes"] = json::array();
  j["iptables"] = json::array();
  j["supervisor"] = supervisor;
  j["state_dir"] = dir;
  j["topology"] = {{"hdfs_nameservice", topo.hdfs_nameservice}, {"yarn_cluster_id", topo.yarn_cluster_id},
                   {"kafka_topics", topo.kafka_topics}, {"hbase_znode_parent", topo.hbase_znode_parent},
                   {"data_bytes", topo.data_bytes}};
  unsigned int next = net.base + 10;
  int zk_id = 0;
  for (const auto& g : topo.groups) {
    int index = 0;
    for (const auto& h : g.hosts) {
      json host = {{"name", h}, {"group", g.name}, {"ip", Ipv4ToString(next++)},
                   {"netns", topo.netns_prefix + h}, {"dir", dir + "/hosts/" + h},
                   {"data_dir", dir + "/hosts/" + h + "/data"}, {"index", ++index}, {"made", false}};
      if (g.name == "zookeeper") host["zk_id"] = ++zk_id;
      json services = json::array();
      if (g.name == "zookeeper") {
        services.push_back({{"name", "zookeeper"}, {"port", kZkClientPort}});
      } else {
        for (const auto& s : g.services) services.push_back({{"name", s.name}, {"program", s.program}, {"port", s.port}});
      }
      host["services"] = services;
      j["hosts"].push_back(host);
    }
  }
  if (forward_rule) j["iptables"].push_back(ForwardRule(topo.bridge));
  FAULTLINE_RETURN_IF_ERROR(state.Save());

  // Keys: one client key for the controller, one host key per host.
  Progress("building " + std::to_string(j["hosts"].size()) + " hosts on " + topo.bridge + " (" +
           topo.subnet + "), coordination: " + config.coord);
  const std::string ssh_dir = dir + "/ssh";
  fs::create_directories(ssh_dir);
  FAULTLINE_RETURN_IF_ERROR(RunOk({keygen, "-q", "-t", "ed25519", "-N", "", "-C", "faultline-lab",
                                   "-f", ssh_dir + "/id_ed25519"}));
  fs::copy_file(ssh_dir + "/id_ed25519.pub", ssh_dir + "/authorized_keys", fs::copy_options::overwrite_existing);
  std::string known_hosts;
  for (auto& host : j["hosts"]) {
    const std::string hdir = host["dir"];
    for (const char* sub : {"", "/run", "/logs", "/conf", "/data"}) fs::create_directories(hdir + sub);
    FAULTLINE_RETURN_IF_ERROR(RunOk({keygen, "-q", "-t", "ed25519", "-N", "", "-C",
                                     "faultline-lab-" + host["name"].get<std::string>(),
                                     "-f", hdir + "/ssh_host_ed25519_key"}));
    std::string pub = ReadFileOr(hdir + "/ssh_host_ed25519_key.pub");
    std::istringstream f(pub);
    std::string type, key;
    f >> type >> key;
    known_hosts += host["ip"].get<std::string>() + " " + type + " " + key + "\n";
  }
  FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(ssh_dir + "/known_hosts", known_hosts, 0644));

  // Network: the bridge (the controller's way in), then one namespace per host.
  j["bridge_made"] = true;
  FAULTLINE_RETURN_IF_ERROR(state.Save());
  FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "link", "add", topo.bridge, "type", "bridge"}));
  FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "addr", "add", j["bridge_cidr"], "dev", topo.bridge}));
  FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "link", "set", topo.bridge, "up"}));
  for (const auto& rule : j["iptables"]) {
    std::vector<std::string> argv = {"iptables", "-I"};
    for (const auto& a : rule) argv.push_back(a);
    FAULTLINE_RETURN_IF_ERROR(RunOk(argv));
  }
  const std::string prefix_len = "/" + std::to_string(net.prefix);
  for (auto& host : j["hosts"]) {
    const std::string ns = host["netns"];
    host["made"] = true;
    FAULTLINE_RETURN_IF_ERROR(state.Save());
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "netns", "add", ns}));
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns}));
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "link", "set", ns, "master", topo.bridge, "up"}));
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "-n", ns, "addr", "add", host["ip"].get<std::string>() + prefix_len, "dev", "eth0"}));
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "-n", ns, "link", "set", "eth0", "up"}));
    FAULTLINE_RETURN_IF_ERROR(RunOk({ip_path, "-n", ns, "link", "set", "lo", "up"}));
    // A size-limited data directory, so disk-full drills fill a real filesystem.
    const std::string data = host["data_dir"];
    host["mounted"] = true;
    FAULTLINE_RETURN_IF_ERROR(state.Save());
    const std::string opts = "size=" + std::to_string(topo.data_bytes) + ",mode=0755";
    if (::mount("faultline-lab", data.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      return Status::Unavailable("cannot mount a tmpfs on " + data + ": " + std::strerror(errno));
    }
  }

  // Configuration of every host's services.
  std::string zk_connect;
  for (const auto& h : j["hosts"]) {
    if (h["group"] != "zookeeper") continue;
    zk_connect += (zk_connect.empty() ? "" : ",") + h["ip"].get<std::string>() + ":" + std::to_string(kZkClientPort);
  }
  j["zk_connect"] = zk_connect;
  fs::create_directories(dir + "/shared/hdfs-" + topo.hdfs_nameservice);
  std::vector<std::string> skipped;
  for (auto& host : j["hosts"]) {
    const std::string hdir = host["dir"], name = host["name"];
    FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(hdir + "/sshd_config", SshdConfig(dir, host)));
    SupervisorConfig sc;
    sc.host = name;
    sc.socket = hdir + "/supervisor.sock";
    sc.run_dir = hdir + "/run";
    sc.log_dir = hdir + "/logs";
    json started = json::array();
    if (host["group"] == "zookeeper") {
      const std::string data = host["data_dir"].get<std::string>() + "/zookeeper";
      fs::create_directories(data);
      FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(data + "/myid", std::to_string(host["zk_id"].get<int>()) + "\n"));
      FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(hdir + "/conf/zoo.cfg", ZooCfg(j, host)));
      SupervisedService svc;
      svc.name = "zookeeper";
      svc.cwd = hdir;
      if (config.coord == "zookeeper") {
        FAULTLINE_RETURN_IF_ERROR(WriteFileAtomic(hdir + "/conf/log4j.properties", kLog4j));
        std::string cp = hdir + "/conf";
        for (const char* jar : kZkJars) cp += std::string(":") + jar;
        // A small heap and the C1 compiler only: the lab runs several JVMs on few cores.
        svc.argv = {java, "-Xms32m", "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.log.dir=" + hdir + "/logs", "-Dlog4j.configuration=file:" + hdir + "/conf/log4j.properties",
                    "-cp", cp,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", hdir + "/conf/zoo.cfg"};
      } else {
        svc.argv = {quorumd, hdir + "/conf/zoo.cfg"};
      }
      sc.services.push_back(svc);
      started.push_back("zookeeper");
    } else if (config.start_services) {
      for (const auto& s : host["services"]) {
        const std::string program = FindProgram(s["program"].get<std::string>());
        if (program.empty()) {
          skipped.push_back(s["program"].get<std::string>());
          continue;
        }
        SupervisedService svc;
        svc.name = s["name"];
        svc.cwd = hdir;
        if (fs::path(program).filename() == "fl-svc") {
          svc.argv = FlSvcArgv(program, j, host, s, topo);
        } else {
          FAULTLINE_RETURN_IF_ERROR(WriteServiceConfig(j, host, s, topo, &svc.argv));
          svc.argv.insert(svc.argv.begin(), program);
        }
        sc.services.push_back(svc);
        started.push_back(s["name"]);
      }
    }
    host["vars"] = ProbeVars(FindProgram("fl-svc"), j, host, topo);
    host["supervised"] = started;
    FAULTLINE_RETURN_IF_ERROR(SaveSupervisorConfig(hdir + "/supervisor.json", sc));
  }
  std::sort(skipped.begin(), skipped.end());
  skipped.erase(std::unique(skipped.begin(), skipped.end()), skipped.end());
  FAULTLINE_RETURN_IF_ERROR(state.Save());

  // Processes: sshd and the supervisor in every host (the supervisor starts the services).
  for (auto& host : j["hosts"]) {
    const std::string hdir = host["dir"], name = host["name"], ns = host["netns"];
    DaemonSpec sshd;
    sshd.argv = {kSshd, "-D", "-e", "-f", hdir + "/sshd_config"};
    sshd.netns = ns;
    sshd.log_file = hdir + "/logs/sshd.log";
    fs::create_directories("/run/sshd");  // sshd's privilege separation directory
    pid_t pid;
    FAULTLINE_RETURN_IF_ERROR(SpawnDaemon(sshd, &pid).Annotate(name));
    FAULTLINE_RETURN_IF_ERROR(state.AddProcess(name, "sshd", pid));
    WriteFileAtomic(hdir + "/run/sshd.pid", std::to_string(pid) + "\n");
    DaemonSpec sup;
    sup.argv = {supervisor, "run", hdir + "/supervisor.json"};
    sup.netns = ns;
    sup.log_file = hdir + "/logs/supervisor.log";
    sup.cwd = hdir;
    FAULTLINE_RETURN_IF_ERROR(SpawnDaemon(sup, &pid).Annotate(name));
    FAULTLINE_RETURN_IF_ERROR(state.AddProcess(name, "supervisor", pid));
  }

  const std::string inventory = LabInventoryPath(dir);
  FAULTLINE_RETURN_IF_ERROR(WriteLabInventory(j, dir, inventory));

  // Ready: every sshd answers, and the ensemble has elected a leader.
  const auto deadline = Clock::now() + config.ready_timeout;
  for (const auto& host : j["hosts"]) {
    while (!TcpReachable(host["ip"], 22, 200)) {
      if (Clock::now() > deadline) {
        return Status::Timeout("sshd of " + host["name"].get<std::string>() + " (" + host["ip"].get<std::string>() +
                               ":22) did not answer within " + std::to_string(config.ready_timeout.count()) +
                               " s; see " + host["dir"].get<std::string>() + "/logs/sshd.log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::map<std::string, std::string> modes;
  size_t zk_hosts = 0;
  for (const auto& h : j["hosts"]) zk_hosts += h["group"] == "zookeeper";
  std::string warning;
  for (;;) {
    int leaders = 0, followers = 0, standalone = 0;
    std::string dead;
    for (const auto& h : j["hosts"]) {
      if (h["group"] != "zookeeper") continue;
      std::string out;
      std::string mode = "not answering";
      if (FourLetterWord(h["ip"], kZkClientPort, "srvr", &out, std::chrono::milliseconds(500)).ok()) {
        mode = ZkModeFromSrvr(out);
        if (mode.empty()) mode = "not serving: " + out.substr(0, out.find('\n'));
      } else {
        // A server that exited will not come back by waiting: say so now, with its last words.
        std::string reply;
        const std::string hdir = h["dir"];
        if (SupervisorRequest(hdir + "/supervisor.sock", "status zookeeper", &reply, std::chrono::milliseconds(1000)).ok() &&
            ReplyExitCode(reply) == 3) {
          std::string log = ReadFileOr(hdir + "/logs/zookeeper.log");
          if (log.size() > 600) log = "..." + log.substr(log.size() - 600);
          dead += "\n  " + h["name"].get<std::string>() + ": " + reply + "; " + hdir + "/logs/zookeeper.log ends:\n" + log;
        }
      }
      modes[h["name"]] = mode;
      leaders += mode == "leader";
      followers += mode == "follower";
      standalone += mode == "standalone";
    }
    if (!dead.empty()) {
      return Status::Unavailable("the coordination server (" + config.coord + ") exited:" + dead +
                                 "\nthe lab stays as it is until `faultline lab down`");
    }
    if (leaders == 1 && static_cast<size_t>(leaders + followers) == zk_hosts) break;
    if (static_cast<size_t>(standalone) == zk_hosts && (zk_hosts == 1 || config.coord == "quorumd")) {
      // Servers that each say "standalone" (a one-host ensemble, or a config that lists no
      // servers): usable for single-server work, but no quorum drill means anything on it.
      if (zk_hosts > 1) {
        warning = "warning: every coordination server runs standalone (" + std::to_string(zk_hosts) +
                  " independent servers, no ensemble): quorum drills are meaningless on this lab";
      }
      break;
    }
    if (Clock::now() > deadline) {
      std::string seen;
      for (const auto& [h, m] : modes) seen += " " + h + ": " + m + ";";
      return Status::Timeout("the ensemble (" + config.coord + ") has no leader after " +
                             std::to_string(config.ready_timeout.count()) + " s (" + seen.substr(1) +
                             ") - see " + dir + "/hosts/<zk>/logs/zookeeper.log; the lab stays as it is "
                             "until `faultline lab down`");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  j["phase"] = "up";
  j["up_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  FAULTLINE_RETURN_IF_ERROR(state.Save());
  std::ostringstream s;
  s << "lab up in " << std::fixed;
  s.precision(1);
  s << j["up_seconds"].get<double>() << " s: " << j["hosts"].size() << " hosts on " << topo.bridge << " ("
    << topo.subnet << "), " << config.coord << " ensemble:";
  for (const auto& [h, m] : modes) s << " " << h << "=" << m;
  s << "\ninventory: " << inventory;
  if (!warning.empty()) s << "\n" << warning;
  if (!skipped.empty()) {
    s << "\nnot built yet, so not started:";
    for (const auto& p : skipped) s << " " << p;
  }
  result->summary = s.str();
  return Status::Ok();
}

namespace {

void DeleteLink(const std::string& name, std::vector<std::string>* problems) {
  for (int i = 0; i < 50 && LinkExists(name); ++i) {
    Status st = RunOk({"ip", "link", "del", name});
    if (st.ok() || !LinkExists(name)) return;
    if (i == 49) problems->push_back(st.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status DownLocked(State& state, std::vector<std::string>* problems) {
  json& j = state.j();
  auto note = [&](const Status& st) {
    if (!st.ok()) problems->push_back(st.message());
  };
  // Supervisors first, all at once: they stop their services; the ensemble's last, so the
  // services' sessions close cleanly instead of waiting on a server that is gone. Then sshd.
  std::set<std::string> ensemble;
  for (const auto& h : j.value("hosts", json::array())) {
    if (h.value("group", "") == "zookeeper") ensemble.insert(h.value("name", ""));
  }
  auto end_all = [&](const std::string& what, int which, std::chrono::milliseconds grace) {
    std::vector<std::thread> enders;
    for (const auto& p : j.value("processes", json::array())) {
      if (p.value("what", "") != what) continue;
      const bool in_ensemble = ensemble.count(p.value("host", "")) > 0;
      if ((which == 1 && in_ensemble) || (which == 2 && !in_ensemble)) continue;
      pid_t pid = p["pid"].get<pid_t>();
      unsigned long long start = p.value("start", 0ull);
      enders.emplace_back([pid, start, grace] { EndProcess(pid, start, grace); });
    }
    for (auto& t : enders) t.join();
  };
  end_all("supervisor", 1, std::chrono::milliseconds(12000));
  end_all("supervisor", 2, std::chrono::milliseconds(12000));
  end_all("sshd", 0, std::chrono::milliseconds(3000));
  // Whatever still runs in the lab's namespaces is the lab's: sessions, agents, services
  // whose supervisor died, daemons spawned by a `lab up` killed before it recorded them.
  for (const auto& h : j.value("hosts", json::array())) {
    const std::string ns = h.value("netns", "");
    if (ns.empty() || !NetnsExists(ns)) continue;
    for (int round = 0; round < 3; ++round) {
      auto pids = NetnsPids(ns);
      if (pids.empty()) break;
      for (pid_t pid : pids) ::kill(pid, SIGKILL);
      for (int i = 0; i < 100; ++i) {
        bool any = false;
        for (pid_t pid : pids) any |= ProcessAlive(pid);
        if (!any) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  for (const auto& h : j.value("hosts", json::array())) {
    const std::string data = h.value("data_dir", "");
    if (!h.value("mounted", false) || data.empty()) continue;
    if (IsMounted(data) && ::umount2(data.c_str(), 0) != 0 && ::umount2(data.c_str(), MNT_DETACH) != 0) {
      problems->push_back("cannot unmount " + data + ": " + std::strerror(errno));
    }
  }
  for (const auto& h : j.value("hosts", json::array())) {
    if (!h.value("made", false)) continue;
    const std::string ns = h.value("netns", "");
    if (NetnsExists(ns)) note(RunOk({"ip", "netns", "del", ns}));
    // Deleting the namespace takes the veth pair with it, though not at once; a half-made
    // pair may remain.
    DeleteLink(ns, problems);
  }
  const std::string bridge = j.value("bridge", "");
  if (j.value("bridge_made", false) && !bridge.empty()) DeleteLink(bridge, problems);
  for (const auto& rule : j.value("iptables", json::array())) {
    std::vector<std::string> check = {"iptables", "-C"}, del = {"iptables", "-D"};
    for (const auto& a : rule) {
      check.push_back(a);
      del.push_back(a);
    }
    RunResult r;
    for (int i = 0; i < 16 && Run(check, &r).ok() && r.status == 0; ++i) note(RunOk(del));
  }
  if (!problems->empty()) {
    std::string all;
    for (const auto& p : *problems) all += "\n  " + p;
    return Status::Unavailable("lab down could not remove everything (state kept in " + state.dir() +
                               ", run it again):" + all);
  }
  std::error_code ec;
  fs::remove_all(state.dir(), ec);
  if (ec) return Status::Unavailable("cannot remove " + state.dir() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Status LabDown(const std::string& state_dir, std::string* summary) {
  FAULTLINE_RETURN_IF_ERROR(CheckRoot());
  const std::string dir = fs::absolute(state_dir).lexically_normal().string();
  LabLock lock;
  FAULTLINE_RETURN_IF_ERROR(lock.Acquire(dir));
  State state(dir);
  if (!state.Load()) {
    std::error_code ec;
    bool had_dir = fs::exists(dir, ec);
    if (had_dir) fs::remove_all(dir, ec);
    lock.Remove();
    *summary = had_dir ? "no lab state in " + dir + "; removed the directory" : "no lab in " + dir + ": nothing to do";
    return Status::Ok();
  }
  const auto t0 = Clock::now();
  std::vector<std::string> problems;
  size_t hosts = state.j().value("hosts", json::array()).size();
  FAULTLINE_RETURN_IF_ERROR(DownLocked(state, &problems));
  lock.Remove();
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << "lab down in " << std::chrono::duration<double>(Clock::now() - t0).count() << " s: removed "
    << hosts << " hosts, their processes, mounts and links, and " << dir;
  *summary = s.str();
  return Status::Ok();
}

Status LabStatus(const std::string& state_dir, std::string* text) {
  const std::string dir = fs::absolute(state_dir).lexically_normal().string();
  State state(dir);
  if (!state.Load()) return Status::NotFound("no lab in " + dir + " (`faultline lab up` builds one)");
  json& j = state.j();
  std::ostringstream o;
  o << "lab in " << dir << ": " << j.value("phase", "?") << " since " << j.value("created", "?") << ", coord "
    << j.value("coord", "?") << ", bridge " << j.value("bridge", "?") << " " << j.value("bridge_cidr", "") << "\n";
  o << "inventory: " << LabInventoryPath(dir) << "\n";
  std::map<std::string, std::pair<pid_t, unsigned long long>> sshd;
  for (const auto& p : j.value("processes", json::array())) {
    if (p.value("what", "") == "sshd") sshd[p["host"]] = {p["pid"].get<pid_t>(), p.value("start", 0ull)};
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-17s %-15s %-5s %-10s %s\n", "HOST", "GROUP", "ADDRESS", "SSH", "ROLE", "SERVICES");
  o << line;
  for (const auto& h : j.value("hosts", json::array())) {
    const std::string name = h["name"];
    auto it = sshd.find(name);
    bool ssh_up = it != sshd.end() && ProcessAlive(it->second.first, it->second.second) &&
                  TcpReachable(h["ip"], 22, 300);
    std::string role = "-";
    if (h["group"] == "zookeeper") {
      std::string out;
      Status st = FourLetterWord(h["ip"], kZkClientPort, "srvr", &out, std::chrono::milliseconds(800));
      role = st.ok() ? ZkModeFromSrvr(out) : "down";
      if (role.empty()) role = "not-serving";
    }
    std::string services;
    std::string reply;
    if (SupervisorRequest(h["dir"].get<std::string>() + "/supervisor.sock", "list", &reply,
                          std::chrono::milliseconds(2000)).ok() && reply.rfind("ok", 0) == 0) {
      services = reply.size() > 3 ? reply.substr(3) : "(none)";
    } else {
      services = "supervisor not answering";
    }
    std::snprintf(line, sizeof line, "%-10s %-17s %-15s %-5s %-10s %s\n", name.c_str(),
                  h["group"].get<std::string>().c_str(), h["ip"].get<std::string>().c_str(), ssh_up ? "up" : "down",
                  role.c_str(), services.c_str());
    o << line;
  }
  *text = o.str();
  return Status::Ok();
}

}  // namespace faultline::lab

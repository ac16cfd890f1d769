// Test support for the service and probe tests: temp dirs, child processes owned by PID,
// a ZooKeeper ensemble started by the test on loopback (Apache ZooKeeper from Debian's
// jars, or quorumd when FAULTLINE_QUORUMD names its binary), and a probe context that
// runs commands locally. Everything is torn down by destructors, also when a test fails.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "checks/probe.h"
#include "checks/zk_fourlw.h"
#include "faults/transport.h"

namespace faultline::testing {

inline void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Polls `pred` every 100 ms until it holds or `ms` pass.
inline bool WaitFor(const std::function<bool()>& pred, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    Sleep(100);
  }
  return pred();
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/flh-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process, killed by PID (and reaped) when the object goes.
class Proc {
 public:
  Proc(std::vector<std::string> argv, const std::string& output) : argv_(std::move(argv)), output_(output) { Start(); }
  ~Proc() { Kill(); }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int fd = ::open(output_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> a;
      for (auto& s : argv_) a.push_back(s.data());
      a.push_back(nullptr);
      ::execvp(a[0], a.data());
      std::_Exit(127);
    }
    exited_ = false;
  }
  pid_t pid() const { return pid_; }
  void Signal(int sig) {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);
  }
  void Kill() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    exited_ = true;
  }
  // True once the process has exited (reaped); `status` gets its exit code (-1 for a signal).
  bool Exited(int* code = nullptr) {
    if (exited_) {
      if (code) *code = code_;
      return true;
    }
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      if (code) *code = code_;
      return true;
    }
    return false;
  }

 private:
  std::vector<std::string> argv_;
  std::string output_;
  pid_t pid_ = -1;
  bool exited_ = true;
  int code_ = 0;
};

// N ZooKeeper servers on loopback with ZooKeeper's stock settings (only srvr among the
// four-letter words, the AdminServer on): server i (0-based) has client port base+3i, quorum
// and election ports base+3i+1, base+3i+2, and its AdminServer on base+3i+10000 (they share
// 127.0.0.1, so each needs its own). `extra` is appended to every zoo.cfg.
class ZkEnsemble {
 public:
  ZkEnsemble(int n, int base_port, int tick_ms = 250, const std::string& extra = "") : n_(n), base_(base_port) {
    const char* quorumd = std::getenv("FAULTLINE_QUORUMD");
    for (int i = 0; i < n; ++i) {
      std::string dir = dir_ / ("zk" + std::to_string(i + 1));
      ::mkdir(dir.c_str(), 0755);
      std::ofstream(dir + "/myid") << (i + 1) << "\n";
      std::ofstream cfg(dir + "/zoo.cfg");
      cfg << "tickTime=" << tick_ms << "\ninitLimit=20\nsyncLimit=8\ndataDir=" << dir << "\nclientPort="
          << ClientPort(i) << "\nclientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\nadmin.serverPort="
          << AdminPort(i) << "\n" << extra;
      if (n > 1) {
        for (int j = 0; j < n; ++j) {
          cfg << "server." << (j + 1) << "=127.0.0.1:" << (ClientPort(j) + 1) << ":" << (ClientPort(j) + 2) << "\n";
        }
      }
      cfg.close();
      if (quorumd && *quorumd) {
        argv_.push_back({quorumd, dir + "/zoo.cfg"});
      } else {
        argv_.push_back({"java", "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                         "/usr/share/java/zookeeper.jar:/usr/share/java/servlet-api.jar",
                         "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                         dir + "/zoo.cfg"});
      }
      servers_.emplace_back(nullptr);
    }
    for (int i = 0; i < n; ++i) Start(i);
  }
  int ClientPort(int i) const { return base_ + 3 * i; }
  int AdminPort(int i) const { return base_ + 3 * i + 10000; }
  std::string Connect() const {
    std::string out;
    for (int i = 0; i < n_; ++i) out += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(ClientPort(i));
    return out;
  }
  void Start(int i) {
    servers_[i] = std::make_unique<Proc>(argv_[i], dir_ / ("zk" + std::to_string(i + 1) + ".out"));
  }
  void Stop(int i) { servers_[i].reset(); }
  std::string Mode(int i) const {
    std::string text;
    if (!SendFourLetterWord("127.0.0.1", ClientPort(i), "srvr", std::chrono::milliseconds(1000), &text).ok()) return "";
    ZkServerStatus s;
    if (!ParseSrvr(text, &s).ok() || !s.serving) return "";
    return s.mode;
  }
  // Waits until a leader (or the standalone server) serves with every started server in mode.
  bool WaitReady(int ms = 60000) {
    return WaitFor([&] {
      for (int i = 0; i < n_; ++i) {
        if (servers_[i] && Mode(i).empty()) return false;
      }
      return true;
    }, ms);
  }
  const std::string& dir() const { return dir_.path(); }
  // What server i wrote on stdout and stderr, for a failing test's message.
  std::string Log(int i) const { return Slurp(dir_ / ("zk" + std::to_string(i + 1) + ".out")); }

 private:
  TempDir dir_;
  int n_, base_;
  std::vector<std::vector<std::string>> argv_;
  std::vector<std::unique_ptr<Proc>> servers_;
};

// Runs commands on this machine: every inventory host is "here".
class LocalTransport : public Transport {
 public:
  explicit LocalTransport(std::string host) : host_(std::move(host)) {}
  const std::string& host() const override { return host_; }
  Status Exec(const ExecRequest& req, ExecResult* out) override {
    TempDir d;
    std::string o = d / "out", e = d / "err";
    pid_t pid = ::fork();
    if (pid == 0) {
      int fo = ::open(o.c_str(), O_WRONLY | O_CREAT, 0644), fe = ::open(e.c_str(), O_WRONLY | O_CREAT, 0644);
      ::dup2(fo, 1);
      ::dup2(fe, 2);
      std::vector<char*> a;
      std::vector<std::string> argv = req.argv;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      ::execvp(a[0], a.data());
      std::_Exit(127);
    }
    int st = 0;
    auto deadline = std::chrono::steady_clock::now() + req.timeout;
    while (::waitpid(pid, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
        out->timed_out = true;
        return Status::Timeout(req.argv[0] + ": timed out");
      }
      Sleep(10);
    }
    out->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    out->stdout_data = Slurp(o);
    out->stderr_data = Slurp(e);
    return Status::Ok();
  }
  Status Open(const std::vector<std::string>&, std::unique_ptr<Channel>*) override {
    return Status::Unavailable("not supported in tests");
  }
  Status Upload(const std::string&, const std::string&, int) override {
    return Status::Unavailable("not supported in tests");
  }
  std::string Describe() const override { return "local " + host_; }

 private:
  std::string host_;
};

class LocalContext : public ProbeContext {
 public:
  explicit LocalContext(const Inventory& inv) : inv_(inv) {}
  const Inventory& inventory() const override { return inv_; }
  Transport* TransportFor(const std::string& host) override {
    if (!inv_.FindHost(host)) return nullptr;
    auto& t = transports_[host];
    if (!t) t = std::make_unique<LocalTransport>(host);
    return t.get();
  }
  double NowMs() const override { return 0; }
  double StartedAtEpoch() const override { return 1.7e9; }

 private:
  const Inventory& inv_;
  std::map<std::string, std::unique_ptr<LocalTransport>> transports_;
};

// Builds an inventory in memory: hosts with vars, groups of hosts.
class InventoryBuilder {
 public:
  InventoryBuilder& Host(const std::string& name, const std::string& group, nlohmann::json vars) {
    InventoryHost& h = inv_.hosts[name];
    h.name = name;
    for (auto& [k, v] : vars.items()) h.vars[k] = v;
    h.groups.push_back(group);
    h.groups.push_back("all");
    inv_.groups[group].name = group;
    inv_.groups[group].hosts.push_back(name);
    inv_.groups["all"].name = "all";
    inv_.groups["all"].hosts.push_back(name);
    return *this;
  }
  InventoryBuilder& AllVar(const std::string& key, nlohmann::json v) {
    inv_.groups["all"].name = "all";
    inv_.groups["all"].vars[key] = v;
    for (auto& [n, h] : inv_.hosts) h.vars[key] = v;
    all_vars_[key] = v;
    return *this;
  }
  Inventory Build() {
    for (auto& [n, h] : inv_.hosts) {
      for (auto& [k, v] : all_vars_.items()) {
        if (!h.vars.contains(k)) h.vars[k] = v;
      }
    }
    inv_.path = "test-inventory";
    return inv_;
  }

 private:
  Inventory inv_;
  nlohmann::json all_vars_ = nlohmann::json::object();
};

// Samples one probe once.
inline Observation SampleProbe(ProbeContext& ctx, const std::string& name, nlohmann::json params = nlohmann::json::object()) {
  ProbeSpec spec;
  spec.name = name;
  spec.params = params;
  spec.mark.file = "test.yaml";
  spec.mark.line = 1;
  std::unique_ptr<Probe> probe;
  Status st = ProbeRegistry::Global().Make(spec, ctx.inventory(), &probe);
  if (!st.ok()) return Observation::Unreachable("make: " + st.message());
  return probe->Sample(ctx, std::chrono::milliseconds(2000));
}

}  // namespace faultline::testing

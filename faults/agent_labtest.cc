// The agent against real namespaces, processes, iptables and a tmpfs: every fault is
// applied, observed from the outside, reverted and observed again.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "faults/agent_labtest_util.h"

namespace faultline::fla {
namespace {

using nlohmann::json;

constexpr int kTcpPort = 23100;
constexpr int kUdpPort = 23101;

class AgentLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_FALSE(AgentBinary().empty()) << "faultline-agent not built (set FAULTLINE_AGENT_BINARY)";
    ASSERT_TRUE(lab_.ok) << "could not build the namespaces";
  }
  int Connect(int from, int to, int port = kTcpPort) {
    return RunIn(lab_.ns(from), [&] { return TcpConnect(Lab::addr(to), port); });
  }
  Lab lab_;
};

double Median(std::vector<double> v) {
  v.erase(std::remove(v.begin(), v.end(), -1.0), v.end());
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Stdev(const std::vector<double>& v) {
  std::vector<double> ok;
  for (double x : v) {
    if (x >= 0) ok.push_back(x);
  }
  double mean = std::accumulate(ok.begin(), ok.end(), 0.0) / ok.size();
  double s = 0;
  for (double x : ok) s += (x - mean) * (x - mean);
  return std::sqrt(s / ok.size());
}

TEST_F(AgentLab, HelloReportsKernelFeatures) {
  StateDir dir("hello");
  AgentProc agent(lab_.ns(0), dir.path);
  json hello = agent.Hello();
  ASSERT_TRUE(hello.is_object());
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["protocol"], 1);
  // This kernel has no sch_netem and cannot load modules; the agent must notice.
  bool netem_here = Sh("grep -c ' netem_enqueue' /proc/kallsyms").rfind("0", 0) != 0;
  EXPECT_EQ(hello["features"]["netem"].get<bool>(), netem_here);
  EXPECT_TRUE(hello["features"]["iptables"] == "nft" || hello["features"]["iptables"] == "legacy");
  EXPECT_TRUE(hello["features"]["nfqueue"].get<bool>());
}

TEST_F(AgentLab, PartitionCutsOnlyNamedPeersAndRevertRestores) {
  Child srv_b = StartIn(lab_.ns(1), [] { TcpEchoServer(kTcpPort); });
  Child srv_c = StartIn(lab_.ns(2), [] { TcpEchoServer(kTcpPort); });
  Child srv_a = StartIn(lab_.ns(0), [] { TcpEchoServer(kTcpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(Connect(0, 1), 0);
  ASSERT_EQ(Connect(1, 0), 0);
  std::string before = NetSnapshot(lab_.ns(0));

  StateDir dir("part");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "cut-b"},
                       {"action", "network.partition"},
                       {"params", {{"peers", {Lab::addr(1)}}, {"direction", "both"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(0, 1), 1) << "a -> b must fail";
  EXPECT_EQ(Connect(1, 0), 1) << "b -> a must fail";
  EXPECT_EQ(Connect(0, 2), 0) << "a -> c is not part of the partition";
  EXPECT_EQ(Connect(1, 2), 0) << "b -> c is not part of the partition";
  std::string rules = Sh("ip netns exec " + lab_.ns(0) + " iptables-save -t filter");
  EXPECT_NE(rules.find("faultline:r1:cut-b"), std::string::npos) << rules;

  // Idempotent: injecting again adds nothing.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "cut-b"}, {"action", "network.partition"},
                  {"params", {{"peers", {Lab::addr(1)}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(r["detail"], "already applied");
  std::string rules2 = Sh("ip netns exec " + lab_.ns(0) + " iptables-save -t filter");
  EXPECT_EQ(std::count(rules2.begin(), rules2.end(), '\n'), std::count(rules.begin(), rules.end(), '\n'));

  r = agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "cut-b"}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(0, 1), 0);
  EXPECT_EQ(Connect(1, 0), 0);
  EXPECT_EQ(NetSnapshot(lab_.ns(0)), before);
  // Idempotent revert.
  r = agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "cut-b"}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
}

TEST_F(AgentLab, OneWayPartitionsCutTheNamedDirection) {
  Child srv_b = StartIn(lab_.ns(1), [] { TcpEchoServer(kTcpPort); });
  Child srv_a = StartIn(lab_.ns(0), [] { TcpEchoServer(kTcpPort); });
  Child udp_a = StartIn(lab_.ns(0), [] { UdpEchoServer(kUdpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StateDir dir("oneway");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);

  // connections mode, direction to: a cannot open connections to b; b still reaches a.
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "a-to-b"}, {"action", "network.partition"},
                       {"params", {{"peers", {Lab::addr(1)}}, {"direction", "to"}, {"mode", "connections"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(0, 1), 1) << "a -> b must fail";
  EXPECT_EQ(Connect(1, 0), 0) << "b -> a must still work";
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "a-to-b"}}).value("ok", false));

  // connections mode, direction from: the opposite.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "b-to-a"}, {"action", "network.partition"},
                  {"params", {{"peers", {Lab::addr(1)}}, {"direction", "from"}, {"mode", "connections"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(1, 0), 1) << "b -> a must fail";
  EXPECT_EQ(Connect(0, 1), 0) << "a -> b must still work";
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "b-to-a"}}).value("ok", false));

  // packets mode, direction from: datagrams from b are dropped, b's probes get no echo;
  // c is unaffected.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "udp"}, {"action", "network.partition"},
                  {"params", {{"peers", {Lab::addr(1)}}, {"direction", "from"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  auto from_b = MeasureRtt(lab_.ns(1), Lab::addr(0), kUdpPort, 5, 300);
  auto from_c = MeasureRtt(lab_.ns(2), Lab::addr(0), kUdpPort, 5, 300);
  EXPECT_EQ(std::count(from_b.begin(), from_b.end(), -1.0), 5);
  EXPECT_EQ(std::count(from_c.begin(), from_c.end(), -1.0), 0);
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "udp"}}).value("ok", false));
  from_b = MeasureRtt(lab_.ns(1), Lab::addr(0), kUdpPort, 5, 300);
  EXPECT_EQ(std::count(from_b.begin(), from_b.end(), -1.0), 0);
}

TEST_F(AgentLab, PortsLimitThePartition) {
  Child srv1 = StartIn(lab_.ns(1), [] { TcpEchoServer(kTcpPort); });
  Child srv2 = StartIn(lab_.ns(1), [] { TcpEchoServer(kTcpPort + 2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StateDir dir("ports");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "p"}, {"action", "network.partition"},
                       {"params", {{"peers", {Lab::addr(1)}}, {"ports", {kTcpPort}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(0, 1, kTcpPort), 1);
  EXPECT_EQ(Connect(0, 1, kTcpPort + 2), 0);
}

// A client in ns `from` holding one connection to `to`; reports over a pipe:
// 'C' connected and echoing, 'E' the connection failed (reset), 'T' an echo stalled.
struct HeldConnection {
  Child child;
  int fd = -1;
  HeldConnection(const std::string& ns, const std::string& addr, int port) {
    int p[2];
    if (pipe(p) != 0) return;
    child = StartIn(ns, [&] {
      close(p[0]);
      int s = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
      if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) _exit(1);
      bool said_c = false;
      for (;;) {
        char x = 'x';
        if (send(s, &x, 1, MSG_NOSIGNAL) != 1) {
          (void)!write(p[1], "E", 1);
          _exit(0);
        }
        pollfd pf{s, POLLIN, 0};
        int rc = poll(&pf, 1, 2000);
        if (rc == 1) {
          if (recv(s, &x, 1, 0) != 1) {
            (void)!write(p[1], "E", 1);
            _exit(0);
          }
          if (!said_c) (void)!write(p[1], "C", 1);
          said_c = true;
        } else {
          (void)!write(p[1], "T", 1);
          _exit(0);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    close(p[1]);
    fd = p[0];
  }
  ~HeldConnection() {
    if (fd >= 0) close(fd);
  }
  char Next(int timeout_ms) {
    pollfd pf{fd, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) != 1) return '?';
    char c = '?';
    return read(fd, &c, 1) == 1 ? c : '?';
  }
};

TEST_F(AgentLab, EstablishedConnectionsAreCutOnlyWhenAsked) {
  Child srv = StartIn(lab_.ns(1), [] { TcpEchoServer(kTcpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StateDir dir("cut");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);
  {
    HeldConnection conn(lab_.ns(0), Lab::addr(1), kTcpPort);
    ASSERT_EQ(conn.Next(3000), 'C');
    json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "keep"}, {"action", "network.partition"},
                         {"params", {{"peers", {Lab::addr(1)}}, {"direction", "from"}}}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    EXPECT_EQ(conn.Next(5000), 'T') << "without cut_established the connection stalls, it is not reset";
    ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "keep"}}).value("ok", false));
  }
  {
    HeldConnection conn(lab_.ns(0), Lab::addr(1), kTcpPort);
    ASSERT_EQ(conn.Next(3000), 'C');
    json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "cut"}, {"action", "network.partition"},
                         {"params", {{"peers", {Lab::addr(1)}}, {"cut_established", true}}}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    EXPECT_EQ(conn.Next(5000), 'E') << "cut_established resets the connection";
  }
}

TEST_F(AgentLab, NfqueueDelayerAddsLatencyJitterAndLoss) {
  Child echo = StartIn(lab_.ns(1), [] { UdpEchoServer(kUdpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string before = NetSnapshot(lab_.ns(0));
  auto base = MeasureRtt(lab_.ns(0), Lab::addr(1), kUdpPort, 30);
  double base_ms = Median(base);
  ASSERT_GE(base_ms, 0);

  StateDir dir("delay");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);
  bool netem = agent.Hello()["features"]["netem"];
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "slow"}, {"action", "network.delay"},
                       {"params", {{"latency", "80ms"}, {"peers", {Lab::addr(1)}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  if (!netem) {
    EXPECT_NE(r.dump().find("NFQUEUE delayer used"), std::string::npos) << r.dump();
  }
  auto delayed = MeasureRtt(lab_.ns(0), Lab::addr(1), kUdpPort, 30);
  double added = Median(delayed) - base_ms;
  EXPECT_NEAR(added, 80.0, 16.0) << "median RTT " << Median(delayed) << " ms, base " << base_ms;
  // Traffic to c is not selected.
  Child echo_c = StartIn(lab_.ns(2), [] { UdpEchoServer(kUdpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LT(Median(MeasureRtt(lab_.ns(0), Lab::addr(2), kUdpPort, 10)), base_ms + 20);
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "slow"}}).value("ok", false));

  // Jitter spreads the delays.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "jitter"}, {"action", "network.delay"},
                  {"params", {{"latency", "60ms"}, {"jitter", "30ms"}, {"peers", {Lab::addr(1)}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  auto jittered = MeasureRtt(lab_.ns(0), Lab::addr(1), kUdpPort, 40);
  EXPECT_NEAR(Median(jittered) - base_ms, 60.0, 15.0);
  EXPECT_GT(Stdev(jittered), 8.0) << "uniform ±30 ms has a spread of ~17 ms";
  EXPECT_GT(Stdev(jittered), 4 * Stdev(delayed) + 1);
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "jitter"}}).value("ok", false));

  // Loss: 30% of a's datagrams to b; 200 probes lose 60 on average. Binomial sd ~6.5,
  // so 4.5 sd either side is a bound a correct delayer essentially never leaves.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "lossy"}, {"action", "network.loss"},
                  {"params", {{"loss", "30%"}, {"peers", {Lab::addr(1)}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  auto lossy = MeasureRtt(lab_.ns(0), Lab::addr(1), kUdpPort, 200, 200);
  long lost = std::count(lossy.begin(), lossy.end(), -1.0);
  EXPECT_GE(lost, 31);
  EXPECT_LE(lost, 89);
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "lossy"}}).value("ok", false));

  auto after = MeasureRtt(lab_.ns(0), Lab::addr(1), kUdpPort, 30);
  EXPECT_LT(Median(after), base_ms + 10);
  EXPECT_EQ(std::count(after.begin(), after.end(), -1.0), 0);
  EXPECT_EQ(NetSnapshot(lab_.ns(0)), before);
}

TEST_F(AgentLab, RateLimitUsesTbfAndRevertRemovesIt) {
  StateDir dir("rate");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  std::string before = NetSnapshot(lab_.ns(0));
  AgentProc agent(lab_.ns(0), dir.path);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "slowlink"}, {"action", "network.rate"},
                       {"params", {{"device", "eth0"}, {"rate", "1mbit"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  std::string q = Sh("ip netns exec " + lab_.ns(0) + " tc qdisc show dev eth0");
  EXPECT_NE(q.find("tbf fa18:"), std::string::npos) << q;
  EXPECT_NE(q.find("rate 1Mbit"), std::string::npos) << q;
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "slowlink"}}).value("ok", false));
  EXPECT_EQ(NetSnapshot(lab_.ns(0)), before);
}

// A process of our own, started by PID and killed by PID.
Child Sleeper(const std::string& marker) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execlp("sleep", "sleep", marker.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return Child(pid);
}

char StateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  auto p = s.rfind(')');
  return p == std::string::npos ? '\0' : s[p + 2];
}

TEST_F(AgentLab, PauseResumeAndKillRealProcesses) {
  std::string marker = std::to_string(900000 + getpid() % 90000);
  Child a = Sleeper(marker);
  Child b = Sleeper(marker);
  StateDir dir("proc");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  AgentProc agent(lab_.ns(0), dir.path);
  json params = {{"match", "^sleep " + marker + "$"}};
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "freeze"}, {"action", "process.pause"},
                       {"params", params}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(StateOf(a.pid), 'T');
  EXPECT_EQ(StateOf(b.pid), 'T');
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "freeze"}}).value("ok", false));
  EXPECT_NE(StateOf(a.pid), 'T');
  EXPECT_NE(StateOf(b.pid), 'T');

  // pidfile selection, SIGKILL.
  std::string pidfile = dir.path + "-pid";
  std::ofstream(pidfile) << a.pid << "\n";
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "kill-a"}, {"action", "process.kill"},
                  {"params", {{"pidfile", pidfile}, {"signal", "KILL"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  int status = 0;
  ASSERT_EQ(waitpid(a.pid, &status, 0), a.pid);
  a.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(StateOf(b.pid), 'S') << "only the pidfile's process is signalled";
  std::filesystem::remove(pidfile);

  // Zero matches is an error, and nothing is recorded.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "none"}, {"action", "process.kill"},
                  {"params", {{"match", "^no-such-process-fla$"}}}});
  EXPECT_FALSE(r.value("ok", true));
  EXPECT_EQ(r["code"], "not found");
  r = agent.Call({{"op", "list"}});
  for (const auto& f : r["faults"]) EXPECT_NE(f["fault"], "none");
}

TEST_F(AgentLab, ServiceStopAndStartThroughInventoryCommands) {
  StateDir dir("svc");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  std::filesystem::create_directories(dir.path + "-svc");
  std::string pidfile = dir.path + "-svc/pid";
  std::string marker = std::to_string(800000 + getpid() % 90000);
  json start = {"sh", "-c", "sleep " + marker + " >/dev/null 2>&1 & echo $! > " + pidfile};
  json stop = {"sh", "-c", "kill $(cat " + pidfile + ")"};
  struct KillByPidfile {
    std::string path;
    ~KillByPidfile() {
      std::ifstream in(path);
      pid_t pid = 0;
      if (in >> pid && pid > 1) kill(pid, SIGKILL);
      std::filesystem::remove_all(std::filesystem::path(path).parent_path());
    }
  } guard{pidfile};
  ASSERT_EQ(system(("sh -c 'sleep " + marker + " >/dev/null 2>&1 & echo $! > " + pidfile + "'").c_str()), 0);
  auto pid_now = [&] {
    std::ifstream in(pidfile);
    pid_t pid = 0;
    in >> pid;
    return pid;
  };
  pid_t first = pid_now();
  ASSERT_GT(first, 1);
  AgentProc agent(lab_.ns(0), dir.path);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "stop"}, {"action", "service.stop"},
                       {"params", {{"service", "sleeper"}, {"start", start}, {"stop", stop}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  auto gone = [&](pid_t pid) { return StateOf(pid) == '\0' || StateOf(pid) == 'Z'; };
  for (int i = 0; i < 50 && !gone(first); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(gone(first)) << "the service's process is gone";
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "stop"}}).value("ok", false));
  pid_t second = pid_now();
  EXPECT_NE(second, first);
  EXPECT_FALSE(gone(second)) << "revert started the service again";

  // process.kill with the service's start command as its revert.
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "kill"}, {"action", "process.kill"},
                  {"params", {{"pidfile", pidfile}, {"signal", "TERM"}, {"restart", start}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  for (int i = 0; i < 50 && !gone(second); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(gone(second)) << "SIGTERM ended it";
  ASSERT_TRUE(agent.Call({{"op", "revert"}, {"run", "r1"}, {"fault", "kill"}}).value("ok", false));
  pid_t third = pid_now();
  EXPECT_NE(third, second);
  EXPECT_FALSE(gone(third)) << "the revert of a kill starts the service again";
}

struct Tmpfs {
  std::string path;
  bool ok = false;
  explicit Tmpfs(const std::string& p, const std::string& size) : path(p) {
    std::filesystem::create_directories(path);
    ok = mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~Tmpfs() {
    if (ok) umount2(path.c_str(), MNT_DETACH);
    std::filesystem::remove(path);
  }
};

unsigned long long FreeBytes(const std::string& path) {
  struct statvfs v;
  statvfs(path.c_str(), &v);
  return static_cast<unsigned long long>(v.f_bavail) * v.f_frsize;
}

TEST_F(AgentLab, DiskFillLeavesTheAskedFreeSpaceAndRevertFreesIt) {
  StateDir dir("disk");
  Tmpfs fs(dir.path + "-tmpfs", "32m");
  ASSERT_TRUE(fs.ok);
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  unsigned long long before = FreeBytes(fs.path);
  AgentProc agent(lab_.ns(0), dir.path);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "full"}, {"action", "disk.fill"},
                       {"params", {{"path", fs.path}, {"free", "4MiB"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  unsigned long long during = FreeBytes(fs.path);
  EXPECT_LE(during, 4ull << 20);
  EXPECT_GE(during, (4ull << 20) - 65536);
  r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "pct"}, {"action", "disk.fill"},
                  {"params", {{"path", fs.path}, {"free", "5%"}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_LE(FreeBytes(fs.path), during) << "5% of 32 MiB is less than 4 MiB";
  json c = agent.Call({{"op", "cleanup"}, {"run", "r1"}});
  ASSERT_TRUE(c.value("ok", false)) << c.dump();
  EXPECT_EQ(c["reverted"].size(), 2u);
  EXPECT_EQ(FreeBytes(fs.path), before);
}

TEST_F(AgentLab, LockoutGuardKeepsTheControllersConnection) {
  // The controller's SSH connection, as SSH_CONNECTION would name it: b:port -> a:23100.
  Child srv = StartIn(lab_.ns(0), [] { TcpEchoServer(kTcpPort); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StateDir dir("guard");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  HeldConnection conn(lab_.ns(1), Lab::addr(0), kTcpPort);
  ASSERT_EQ(conn.Next(3000), 'C');
  std::string ss = Sh("ip netns exec " + lab_.ns(0) + " ss -Htn state established '( sport = :" +
                      std::to_string(kTcpPort) + " )'");
  auto colon = ss.rfind(':');
  ASSERT_NE(colon, std::string::npos) << ss;
  int client_port = std::atoi(ss.substr(colon + 1).c_str());
  // The agent learns the connection to spare from SSH_CONNECTION, as under sshd.
  std::string ssh_connection = Lab::addr(1) + " " + std::to_string(client_port) + " " + Lab::addr(0) +
                               " " + std::to_string(kTcpPort);
  setenv("SSH_CONNECTION", ssh_connection.c_str(), 1);
  AgentProc agent(lab_.ns(0), dir.path);
  unsetenv("SSH_CONNECTION");
  json hello = agent.Hello();
  ASSERT_TRUE(hello.contains("guard")) << hello.dump();
  EXPECT_EQ(hello["guard"]["port"], client_port);
  json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "isolate"}, {"action", "network.partition"},
                       {"params", {{"peers", {"10.202.0.0/24"}}}}});
  ASSERT_TRUE(r.value("ok", false)) << r.dump();
  EXPECT_EQ(Connect(1, 0), 1) << "new connections from b are cut";
  EXPECT_EQ(conn.Next(3000), '?') << "the guarded connection keeps echoing (no stall, no reset)";
}

TEST_F(AgentLab, LeaseRevertsWhenTheControllerStopsRenewing) {
  StateDir dir("lease");
  CleanupOnExit cleanup{lab_.ns(0), dir.path};
  std::string before = NetSnapshot(lab_.ns(0));
  {
    AgentProc agent(lab_.ns(0), dir.path);
    json r = agent.Call({{"op", "inject"}, {"run", "r1"}, {"fault", "cut"}, {"action", "network.partition"},
                         {"params", {{"peers", {Lab::addr(1)}}}}, {"lease_ms", 1500}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
    // Renewals keep it in place past the first lease.
    for (int i = 0; i < 6; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      ASSERT_TRUE(agent.Call({{"op", "renew"}, {"run", "r1"}, {"lease_ms", 1500}}).value("ok", false));
    }
    EXPECT_NE(NetSnapshot(lab_.ns(0)), before);
    kill(agent.pid(), SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(NetSnapshot(lab_.ns(0)), before);
  std::string state;
  std::ifstream(dir.path + "/state.json") >> state;
  json s = json::parse(std::ifstream(dir.path + "/state.json"));
  EXPECT_TRUE(s["faults"].empty()) << s.dump();
}

}  // namespace
}  // namespace faultline::fla

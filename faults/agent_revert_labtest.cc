// The revert guarantee: the controller (the process holding the agent's stdin) is
// SIGKILLed at random moments while it injects and renews faults, 20+ times; sometimes
// the agent dies with it. Once the lease runs out, iptables (counters aside), qdiscs,
// process states and free disk must be exactly what they were before.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "faults/agent_labtest_util.h"

namespace faultline::fla {
namespace {

using nlohmann::json;

constexpr int kLeaseMs = 1200;

unsigned long long FreeBytes(const std::string& path) {
  struct statvfs v;
  statvfs(path.c_str(), &v);
  return static_cast<unsigned long long>(v.f_bavail) * v.f_frsize;
}

char StateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  auto p = s.rfind(')');
  return p == std::string::npos ? '\0' : s[p + 2];
}

struct Tmpfs {
  std::string path;
  bool ok = false;
  explicit Tmpfs(const std::string& p) : path(p) {
    std::filesystem::create_directories(path);
    ok = mount("tmpfs", path.c_str(), "tmpfs", 0, "size=16m") == 0;
  }
  ~Tmpfs() {
    if (ok) umount2(path.c_str(), MNT_DETACH);
    std::filesystem::remove(path);
  }
};

// The controller: starts the agent, injects four faults, renews forever. Reports the
// agent's PID through `report` so the test can kill the agent too.
[[noreturn]] void Controller(const std::string& ns, const std::string& dir, const std::string& mnt,
                             const std::string& marker, int report) {
  AgentProc agent(ns, dir);
  pid_t pid = agent.pid();
  (void)!write(report, &pid, sizeof pid);
  auto inject = [&](const std::string& fault, const std::string& action, json params) {
    agent.Call({{"op", "inject"}, {"run", "chaos"}, {"fault", fault}, {"action", action},
                {"params", params}, {"lease_ms", kLeaseMs}});
  };
  inject("cut", "network.partition", {{"peers", {Lab::addr(1)}}, {"cut_established", true}});
  inject("slow", "network.delay", {{"latency", "30ms"}, {"peers", {Lab::addr(2)}}});
  inject("freeze", "process.pause", {{"match", "^sleep " + marker + "$"}});
  inject("full", "disk.fill", {{"path", mnt}, {"free", "1MiB"}});
  inject("rate", "network.rate", {{"device", "eth0"}, {"rate", "10mbit"}});
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    agent.Call({{"op", "renew"}, {"run", "chaos"}, {"lease_ms", kLeaseMs}});
  }
}

TEST(AgentRevertGuarantee, SurvivesControllerKilledAtRandomMoments) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_FALSE(AgentBinary().empty());
  Lab lab;
  ASSERT_TRUE(lab.ok);
  StateDir dir("guarantee");
  CleanupOnExit cleanup{lab.ns(0), dir.path};
  Tmpfs fs(dir.path + "-tmpfs");
  ASSERT_TRUE(fs.ok);
  std::string marker = std::to_string(700000 + getpid() % 90000);
  pid_t sp = fork();
  if (sp == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execlp("sleep", "sleep", marker.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  Child sleeper(sp);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  const std::string net_before = NetSnapshot(lab.ns(0));
  const char proc_before = StateOf(sleeper.pid);
  const unsigned long long disk_before = FreeBytes(fs.path);
  unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  int faults_seen = 0;

  for (int round = 0; round < 22; ++round) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t ctl = fork();
    if (ctl == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(p[0]);
      Controller(lab.ns(0), dir.path, fs.path, marker, p[1]);
    }
    Child controller(ctl);
    close(p[1]);
    pid_t agent_pid = -1;
    (void)!read(p[0], &agent_pid, sizeof agent_pid);
    close(p[0]);
    int kill_after = std::uniform_int_distribution<int>(0, 1500)(rng);
    bool kill_agent_too = round % 3 == 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after));
    if (NetSnapshot(lab.ns(0)) != net_before || StateOf(sleeper.pid) == 'T') ++faults_seen;
    kill(ctl, SIGKILL);
    if (kill_agent_too && agent_pid > 0) kill(agent_pid, SIGKILL);
    controller.Stop();
    if (agent_pid > 0) waitpid(agent_pid, nullptr, WNOHANG);

    // Wait for the lease to run out and the watchdog to finish (bounded).
    bool clean = false;
    for (int i = 0; i < 60 && !clean; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      json state;
      try {
        state = json::parse(std::ifstream(dir.path + "/state.json"));
      } catch (...) {
        state = json{{"faults", json::array()}, {"leases", json::object()}};
      }
      std::string queues = Sh("ip netns exec " + lab.ns(0) + " cat /proc/net/netfilter/nfnetlink_queue");
      clean = state["faults"].empty() && state["leases"].empty() && queues.empty();
    }
    SCOPED_TRACE("round " + std::to_string(round) + ", controller killed after " +
                 std::to_string(kill_after) + " ms" + (kill_agent_too ? ", agent too" : ""));
    EXPECT_TRUE(clean) << "the state file still lists faults, or a delayer still runs";
    EXPECT_EQ(NetSnapshot(lab.ns(0)), net_before);
    EXPECT_EQ(StateOf(sleeper.pid), proc_before);
    EXPECT_EQ(FreeBytes(fs.path), disk_before);
    if (HasFailure()) break;
  }
  // The moments must have caught faults in place, or the test proved nothing.
  EXPECT_GE(faults_seen, 10);
}

}  // namespace
}  // namespace faultline::fla

// The lab, built for real: namespaces on a bridge, sshd and a supervisor per host, an
// Apache ZooKeeper ensemble; reached over SSH through the inventory it writes; torn down
// with nothing left, also after `lab up` is killed halfway. Needs root.
// Names: namespaces fll-*, bridge fllbr0, subnet 10.203.0.128/25.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "faults/ssh_transport.h"
#include "lab/lab.h"
#include "lab/sys.h"
#include "lab/topology.h"
#include "orchestrator/inventory.h"

namespace faultline::lab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

std::string Capture(const std::vector<std::string>& argv) {
  RunResult r;
  Run(argv, &r);
  return r.out;
}

// What the machine looks like from the outside, for "nothing left behind".
struct Snapshot {
  std::set<std::string> netns, links, mounts;
  std::string iptables;
  static Snapshot Take() {
    Snapshot s;
    std::istringstream ns(Capture({"ip", "netns", "list"}));
    for (std::string l; std::getline(ns, l);) s.netns.insert(l.substr(0, l.find(' ')));
    for (auto& e : fs::directory_iterator("/sys/class/net")) s.links.insert(e.path().filename());
    std::istringstream m(ReadFileOr("/proc/self/mounts"));
    for (std::string l; std::getline(m, l);) s.mounts.insert(l);
    std::istringstream ipt(Capture({"iptables-save"}));
    for (std::string l; std::getline(ipt, l);) {
      if (l.empty() || l[0] == '#') continue;                  // timestamps
      if (l[0] == ':') l = l.substr(0, l.find(' ', l.find(' ') + 1));  // counters
      s.iptables += l + "\n";
    }
    return s;
  }
};

// Only our own names count: other tests may create theirs meanwhile.
template <typename Set>
std::set<std::string> Ours(const Set& s) {
  std::set<std::string> out;
  for (const auto& x : s) if (x.find("fll") != std::string::npos) out.insert(x);
  return out;
}

void ExpectNothingLeft(const Snapshot& before, const std::vector<pid_t>& pids, const std::string& state_dir) {
  Snapshot after = Snapshot::Take();
  EXPECT_EQ(Ours(after.netns), Ours(before.netns));
  EXPECT_EQ(Ours(after.links), Ours(before.links));
  EXPECT_EQ(Ours(after.mounts), Ours(before.mounts));
  EXPECT_EQ(after.iptables, before.iptables);
  for (pid_t pid : pids) EXPECT_FALSE(ProcessAlive(pid)) << "pid " << pid << " still runs";
  EXPECT_FALSE(fs::exists(state_dir));
}

std::vector<pid_t> RecordedPids(const std::string& state_dir) {
  std::vector<pid_t> out;
  try {
    auto j = json::parse(ReadFileOr(state_dir + "/state.json", "{}"));
    for (const auto& p : j.value("processes", json::array())) out.push_back(p["pid"].get<pid_t>());
  } catch (...) {
  }
  return out;
}

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "lab test: needs root";
    char tmpl[] = "/tmp/fll-lab-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_dir_ = dir_ + "/state";
    config_.state_dir = state_dir_;
    config_.coord = "zookeeper";
    config_.ready_timeout = 150s;
    config_.topology.subnet = "10.203.0.128/25";
    config_.topology.bridge = "fllbr0";
    config_.topology.netns_prefix = "fll-";
    config_.topology.data_bytes = 8ull << 20;
    config_.topology.groups = {{"zookeeper", {"zk1", "zk2", "zk3"}, {}}, {"workers", {"w1"}, {}}};
    before_ = Snapshot::Take();
  }
  void TearDown() override {
    // Whatever a failed assertion left, down removes it.
    std::string summary;
    Status st = LabDown(state_dir_, &summary);
    EXPECT_TRUE(st.ok()) << st.ToString();
    fs::remove_all(dir_);
  }

  std::string dir_, state_dir_;
  LabConfig config_;
  Snapshot before_;
};

std::map<std::string, std::string> Modes(const Inventory& inv) {
  std::map<std::string, std::string> modes;
  for (const auto& name : inv.FindGroup("zookeeper")->hosts) {
    std::string out;
    Status st = FourLetterWord(inv.FindHost(name)->address(), 2181, "srvr", &out, 1000ms);
    modes[name] = st.ok() ? ZkModeFromSrvr(out) : "down";
  }
  return modes;
}

// Waits (bounded) until exactly one of `hosts` leads and the others follow.
std::string WaitForLeader(const Inventory& inv, const std::set<std::string>& hosts, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::map<std::string, std::string> modes;
  while (std::chrono::steady_clock::now() < deadline) {
    modes = Modes(inv);
    std::string leader;
    int leaders = 0, followers = 0;
    for (const auto& h : hosts) {
      if (modes[h] == "leader") { ++leaders; leader = h; }
      if (modes[h] == "follower") ++followers;
    }
    if (leaders == 1 && leaders + followers == static_cast<int>(hosts.size())) return leader;
    std::this_thread::sleep_for(250ms);
  }
  std::string seen;
  for (const auto& [h, m] : modes) seen += h + "=" + m + " ";
  ADD_FAILURE() << "no leader among the given hosts: " << seen;
  return "";
}

ExecRequest Command(const json& argv) {
  ExecRequest r;
  for (const auto& a : argv) r.argv.push_back(a.get<std::string>());
  r.timeout = 60s;
  return r;
}

TEST_F(LabTest, UpReachEveryHostDrillAndTearDownLeavingNothing) {
  UpResult up;
  Status st = LabUp(config_, &up);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(up.already_up);

  // A second `up` says so and changes nothing.
  const std::string state_before = ReadFileOr(state_dir_ + "/state.json");
  UpResult again;
  ASSERT_TRUE(LabUp(config_, &again).ok());
  EXPECT_TRUE(again.already_up);
  EXPECT_NE(again.summary.find("already up"), std::string::npos);
  EXPECT_EQ(ReadFileOr(state_dir_ + "/state.json"), state_before);

  Inventory inv;
  st = LoadInventory(LabInventoryPath(state_dir_), &inv);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(inv.hosts.size(), 4u);
  ASSERT_NE(inv.FindGroup("zookeeper"), nullptr);
  EXPECT_EQ(inv.FindGroup("zookeeper")->hosts.size(), 3u);
  EXPECT_TRUE(inv.FindHost("zk1")->vars.value("faultline_quorum", false));

  // Every host over SSH, strict host keys, through the inventory: each answers with the
  // address of its own namespace.
  RegisterSshTransport();
  std::map<std::string, std::unique_ptr<Transport>> transports;
  std::vector<std::string> names;
  for (const auto& [name, host] : inv.hosts) {
    ASSERT_TRUE(MakeTransport(host, TransportOptions{}, &transports[name]).ok());
    names.push_back(name);
  }
  st = ForEachHost(names, 4, [&](const std::string& name) {
    ExecResult res;
    Status s = transports[name]->Exec({{"ip", "-o", "-4", "addr", "show", "dev", "eth0"}}, &res);
    if (!s.ok()) return s;
    if (res.stdout_data.find(" " + inv.FindHost(name)->address() + "/") == std::string::npos) {
      return Status::Internal("wrong host answered: " + res.stdout_data);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();

  // The ensemble elected a leader (four-letter words).
  const std::string leader = WaitForLeader(inv, {"zk1", "zk2", "zk3"}, 30s);
  ASSERT_FALSE(leader.empty());

  // Stop the leader's ZooKeeper through the inventory's service command: the other two elect.
  const json& services = inv.FindHost(leader)->vars["faultline_services"]["zookeeper"];
  ExecResult res;
  ASSERT_TRUE(transports[leader]->Exec(Command(services["stop"]), &res).ok());
  ASSERT_EQ(res.exit_status, 0) << res.stdout_data << res.stderr_data;
  ASSERT_TRUE(transports[leader]->Exec(Command(services["status"]), &res).ok());
  EXPECT_EQ(res.exit_status, 3) << "status of a stopped service exits 3, as systemctl's";
  EXPECT_FALSE(fs::exists(inv.FindHost(leader)->vars["faultline_processes"]["zookeeper"]["pidfile"].get<std::string>()));
  std::set<std::string> rest = {"zk1", "zk2", "zk3"};
  rest.erase(leader);
  EXPECT_EQ(Modes(inv)[leader], "down");
  EXPECT_FALSE(WaitForLeader(inv, rest, 90s).empty());
  ASSERT_TRUE(transports[leader]->Exec(Command(services["start"]), &res).ok());
  ASSERT_EQ(res.exit_status, 0) << res.stdout_data << res.stderr_data;
  ASSERT_TRUE(transports[leader]->Exec(Command(services["status"]), &res).ok());
  EXPECT_EQ(res.exit_status, 0);
  EXPECT_FALSE(WaitForLeader(inv, {"zk1", "zk2", "zk3"}, 90s).empty());
  EXPECT_NE(ReadFileOr(inv.FindHost(leader)->vars["faultline_logs"]["zookeeper"].get<std::string>())
                .find("faultline-supervisor: zookeeper stopped"),
            std::string::npos);

  // The data mount is small and really fills up.
  const std::string data = inv.FindHost("w1")->vars["faultline_data_dir"];
  ASSERT_TRUE(transports["w1"]->Exec({{"dd", "if=/dev/zero", "of=" + data + "/fill", "bs=1M", "count=64"}}, &res).ok());
  EXPECT_NE(res.exit_status, 0);
  EXPECT_NE(res.stderr_data.find("No space left"), std::string::npos) << res.stderr_data;
  ASSERT_TRUE(transports["w1"]->Exec({{"df", "--output=avail", "-B1", data}}, &res).ok());
  EXPECT_LT(std::stoll(res.stdout_data.substr(res.stdout_data.find('\n') + 1)), 1 << 20);
  EXPECT_LE(fs::file_size(data + "/fill"), 8u << 20);

  std::string status;
  ASSERT_TRUE(LabStatus(state_dir_, &status).ok());
  for (const auto& n : names) EXPECT_NE(status.find(n), std::string::npos) << status;
  EXPECT_NE(status.find("leader"), std::string::npos) << status;
  EXPECT_NE(status.find("zookeeper=running"), std::string::npos) << status;

  transports.clear();
  const auto pids = RecordedPids(state_dir_);
  ASSERT_GE(pids.size(), 8u);
  std::string summary;
  st = LabDown(state_dir_, &summary);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectNothingLeft(before_, pids, state_dir_);
  st = LabDown(state_dir_, &summary);
  EXPECT_TRUE(st.ok()) << "down is idempotent: " << st.ToString();
  EXPECT_NE(summary.find("nothing to do"), std::string::npos) << summary;
  EXPECT_EQ(LabStatus(state_dir_, &status).code(), Status::Code::kNotFound);
}

// Forks a `lab up` and SIGKILLs it as soon as `ready(state)` holds.
void KillUpWhen(const LabConfig& config, const std::string& state_dir, const std::function<bool(const json&)>& ready) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    UpResult up;
    Status st = LabUp(config, &up);
    ::_exit(st.ok() ? 0 : 1);
  }
  bool killed = false;
  for (int i = 0; i < 6000 && !killed; ++i) {
    json state;
    try {
      state = json::parse(ReadFileOr(state_dir + "/state.json", "{}"));
    } catch (...) {
    }
    if (ready(state)) {
      ::kill(child, SIGKILL);
      killed = true;
    } else {
      std::this_thread::sleep_for(2ms);
    }
  }
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(killed) << "lab up never reached the point to be killed at";
  ASSERT_TRUE(WIFSIGNALED(wstatus));
  auto state = json::parse(ReadFileOr(state_dir + "/state.json"));
  EXPECT_EQ(state["phase"], "building");
}

TEST_F(LabTest, DownAfterUpKilledHalfwayLeavesNothing) {
  // Killed while it makes namespaces and mounts, before any daemon runs.
  KillUpWhen(config_, state_dir_, [](const json& st) {
    int made = 0;
    for (const auto& h : st.value("hosts", json::array())) made += h.value("mounted", false);
    return made >= 2;
  });
  std::string summary;
  Status st = LabDown(state_dir_, &summary);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectNothingLeft(before_, {}, state_dir_);

  // Killed while it starts daemons in some hosts but not all.
  KillUpWhen(config_, state_dir_, [](const json& st) { return st.value("processes", json::array()).size() >= 3; });
  const auto pids = RecordedPids(state_dir_);
  st = LabDown(state_dir_, &summary);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectNothingLeft(before_, pids, state_dir_);
}

TEST_F(LabTest, UpAfterACrashedUpRemovesTheRemainsFirst) {
  KillUpWhen(config_, state_dir_, [](const json& st) { return st.value("processes", json::array()).size() >= 2; });
  const auto stale = RecordedPids(state_dir_);
  UpResult up;
  Status st = LabUp(config_, &up);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(up.already_up);
  for (pid_t pid : stale) EXPECT_FALSE(ProcessAlive(pid)) << "stale pid " << pid;
  const auto pids = RecordedPids(state_dir_);
  std::string summary;
  ASSERT_TRUE(LabDown(state_dir_, &summary).ok());
  ExpectNothingLeft(before_, pids, state_dir_);
}

TEST_F(LabTest, ClearErrorsForABridgeOrSubnetInUse) {
  ASSERT_EQ(std::system("ip link add fllbr0 type bridge"), 0);
  UpResult up;
  Status st = LabUp(config_, &up);
  std::system("ip link del fllbr0");
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("bridge fllbr0 already exists"), std::string::npos) << st.message();

  ASSERT_EQ(std::system("ip link add fll-dummy type bridge && ip addr add 10.203.0.200/32 dev fll-dummy"), 0);
  st = LabUp(config_, &up);
  std::system("ip link del fll-dummy");
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("subnet 10.203.0.128/25 is already in use here (10.203.0.200/32 on fll-dummy"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(Ours(Snapshot::Take().netns), Ours(before_.netns)) << "nothing made on a refused up";
}

TEST_F(LabTest, DrillClusterServicesRunAndAnswerThroughTheInventory) {
  config_.topology.groups = {{"zookeeper", {"zk1", "zk2", "zk3"}, {}},
                             DefaultTopology(3).groups[1],   // namenode: nn1 nn2
                             DefaultTopology(3).groups[5]};  // kafka: kafka1..kafka3
  ASSERT_EQ(config_.topology.groups[1].name, "namenode");
  ASSERT_EQ(config_.topology.groups[2].name, "kafka");
  UpResult up;
  Status st = LabUp(config_, &up);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(up.summary.find("not built yet"), std::string::npos) << up.summary;
  Inventory inv;
  st = LoadInventory(LabInventoryPath(state_dir_), &inv);
  ASSERT_TRUE(st.ok()) << st.ToString();
  RegisterSshTransport();
  std::unique_ptr<Transport> nn1, kafka1;
  ASSERT_TRUE(MakeTransport(*inv.FindHost("nn1"), TransportOptions{}, &nn1).ok());
  ASSERT_TRUE(MakeTransport(*inv.FindHost("kafka1"), TransportOptions{}, &kafka1).ok());

  // One active NameNode, as the inventory's haadmin command reports it over SSH.
  ExecResult res;
  std::string last;
  bool one_active = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; !one_active && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE(nn1->Exec(Command(inv.FindHost("nn1")->vars["hdfs_haadmin_command"]), &res).ok());
    last = res.stdout_data + res.stderr_data;
    size_t actives = 0;
    for (size_t p = last.find("active"); p != std::string::npos; p = last.find("active", p + 1)) ++actives;
    one_active = actives == 1 && last.find("standby") != std::string::npos;
    if (!one_active) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(one_active) << last;

  // A Kafka write and read-back through the brokers the lab started.
  bool rw = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; !rw && std::chrono::steady_clock::now() < deadline;) {
    ExecRequest req = Command(inv.FindHost("kafka1")->vars["kafka_rw_command"]);
    req.argv.push_back("lab-token");
    ASSERT_TRUE(kafka1->Exec(req, &res).ok());
    rw = res.exit_status == 0;
    last = res.stdout_data + res.stderr_data;
    if (!rw) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(rw) << last;
  nn1.reset();
  kafka1.reset();
  const auto pids = RecordedPids(state_dir_);
  std::string summary;
  ASSERT_TRUE(LabDown(state_dir_, &summary).ok());
  ExpectNothingLeft(before_, pids, state_dir_);
}

TEST_F(LabTest, QuorumdBackend) {
  config_.coord = "quorumd";
  UpResult up;
  Status st = LabUp(config_, &up);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Inventory inv;
  ASSERT_TRUE(LoadInventory(LabInventoryPath(state_dir_), &inv).ok());
  auto modes = Modes(inv);
  int leaders = 0, followers = 0, standalone = 0;
  for (const auto& [h, m] : modes) {
    leaders += m == "leader";
    followers += m == "follower";
    standalone += m == "standalone";
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(followers, 2);
  EXPECT_EQ(standalone, 0);
  EXPECT_EQ(up.summary.find("standalone"), std::string::npos) << up.summary;
  EXPECT_NE(ReadFileOr(state_dir_ + "/hosts/zk1/conf/zoo.cfg").find("server.3="), std::string::npos);
  const auto pids = RecordedPids(state_dir_);
  std::string summary;
  ASSERT_TRUE(LabDown(state_dir_, &summary).ok());
  ExpectNothingLeft(before_, pids, state_dir_);
}

}  // namespace
}  // namespace faultline::lab

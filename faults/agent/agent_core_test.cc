// Unit tests of the agent's pieces that need no root: the netem request it would send,
// the delayer's delay model, parsing, and the state file.
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include <gtest/gtest.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/utils.h>

#include "faults/agent/delayer.h"
#include "faults/agent/netfilter.h"
#include "faults/agent/qdisc.h"
#include "faults/agent/state.h"
#include "faults/agent/sys.h"

namespace faultline::agent {
namespace {

TEST(NetemRequest, CarriesDelayJitterCorrelationAndLossForTheRootWithOurHandle) {
  NetemSpec spec;
  spec.latency_us = 80000;
  spec.jitter_us = 5000;
  spec.correlation = 0.25;
  spec.loss = 0.1;
  nl_msg* msg = nullptr;
  ASSERT_TRUE(BuildNetemRequest(7, spec, &msg).ok());
  nlmsghdr* hdr = nlmsg_hdr(msg);
  EXPECT_EQ(hdr->nlmsg_type, RTM_NEWQDISC);
  EXPECT_TRUE(hdr->nlmsg_flags & NLM_F_CREATE);
  EXPECT_TRUE(hdr->nlmsg_flags & NLM_F_REQUEST);
  auto* tc = static_cast<tcmsg*>(nlmsg_data(hdr));
  EXPECT_EQ(tc->tcm_ifindex, 7);
  EXPECT_EQ(tc->tcm_handle, kNetemHandle);
  EXPECT_EQ(tc->tcm_parent, TC_H_ROOT);

  nlattr* kind = nlmsg_find_attr(hdr, sizeof(tcmsg), TCA_KIND);
  ASSERT_NE(kind, nullptr);
  EXPECT_STREQ(static_cast<const char*>(nla_data(kind)), "netem");

  nlattr* opts = nlmsg_find_attr(hdr, sizeof(tcmsg), TCA_OPTIONS);
  ASSERT_NE(opts, nullptr);
  ASSERT_GE(nla_len(opts), static_cast<int>(sizeof(tc_netem_qopt)));
  auto* q = static_cast<tc_netem_qopt*>(nla_data(opts));
  EXPECT_EQ(q->latency, nl_us2ticks(80000));
  EXPECT_EQ(q->jitter, nl_us2ticks(5000));
  EXPECT_EQ(q->limit, 10000u);
  EXPECT_NEAR(q->loss / 4294967295.0, 0.1, 1e-6);

  // The correlations follow the fixed struct as nested attributes.
  int rest = nla_len(opts) - NLA_ALIGN(sizeof(tc_netem_qopt));
  auto* a = reinterpret_cast<nlattr*>(static_cast<char*>(nla_data(opts)) + NLA_ALIGN(sizeof(tc_netem_qopt)));
  bool found_corr = false;
  for (; nla_ok(a, rest); a = nla_next(a, &rest)) {
    if (nla_type(a) == TCA_NETEM_CORR) {
      auto* corr = static_cast<tc_netem_corr*>(nla_data(a));
      EXPECT_NEAR(corr->delay_corr / 4294967295.0, 0.25, 1e-6);
      found_corr = true;
    }
  }
  EXPECT_TRUE(found_corr);
  nlmsg_free(msg);
}

TEST(DelayModel, MeanIsLatencyAndJitterIsUniformWithinBounds) {
  DelayerOptions o;
  o.latency_us = 50000;
  o.jitter_us = 10000;
  o.seed = 42;
  DelayModel m(o);
  std::vector<double> d;
  for (int i = 0; i < 20000; ++i) d.push_back(static_cast<double>(m.Next()));
  double mean = std::accumulate(d.begin(), d.end(), 0.0) / d.size();
  EXPECT_NEAR(mean, 50000, 300);
  for (double x : d) {
    EXPECT_GE(x, 40000);
    EXPECT_LE(x, 60000);
  }
  double var = 0;
  for (double x : d) var += (x - mean) * (x - mean);
  // Uniform on ±10 ms: sd = 20 ms / sqrt(12) = 5.77 ms.
  EXPECT_NEAR(std::sqrt(var / d.size()), 5773, 200);
}

TEST(DelayModel, CorrelationMakesNeighboursAlike) {
  DelayerOptions o;
  o.latency_us = 50000;
  o.jitter_us = 10000;
  o.seed = 7;
  auto lag1 = [](const std::vector<double>& d) {
    double mean = std::accumulate(d.begin(), d.end(), 0.0) / d.size();
    double num = 0, den = 0;
    for (size_t i = 0; i + 1 < d.size(); ++i) num += (d[i] - mean) * (d[i + 1] - mean);
    for (double x : d) den += (x - mean) * (x - mean);
    return num / den;
  };
  std::vector<double> free_d, corr_d;
  DelayModel free_m(o);
  o.correlation = 0.75;
  DelayModel corr_m(o);
  for (int i = 0; i < 20000; ++i) {
    free_d.push_back(static_cast<double>(free_m.Next()));
    corr_d.push_back(static_cast<double>(corr_m.Next()));
  }
  EXPECT_LT(std::fabs(lag1(free_d)), 0.05);
  EXPECT_GT(lag1(corr_d), 0.6);
}

TEST(DelayModel, LossDropsTheAskedFraction) {
  DelayerOptions o;
  o.loss = 0.3;
  o.seed = 3;
  DelayModel m(o);
  int dropped = 0;
  for (int i = 0; i < 10000; ++i) dropped += m.Next() < 0;
  // Binomial(10000, 0.3): sd 45.8; 5 sd either side.
  EXPECT_NEAR(dropped, 3000, 230);
}

TEST(ParseRate, TcUnits) {
  uint64_t r = 0;
  ASSERT_TRUE(ParseRate("1mbit", &r).ok());
  EXPECT_EQ(r, 125000u);
  ASSERT_TRUE(ParseRate("500kbps", &r).ok());
  EXPECT_EQ(r, 500000u);
  ASSERT_TRUE(ParseRate("8000bit", &r).ok());
  EXPECT_EQ(r, 1000u);
  EXPECT_FALSE(ParseRate("fast", &r).ok());
  EXPECT_FALSE(ParseRate("10", &r).ok());
  EXPECT_FALSE(ParseRate("10furlongs", &r).ok());
}

TEST(CheckAddress, OnlyAddressesReachIptables) {
  EXPECT_TRUE(CheckAddress("10.202.0.2").ok());
  EXPECT_TRUE(CheckAddress("10.202.0.0/24").ok());
  EXPECT_FALSE(CheckAddress("-j ACCEPT").ok());
  EXPECT_FALSE(CheckAddress("zk1").ok());
  EXPECT_FALSE(CheckAddress("10.0.0.1/").ok());
  EXPECT_FALSE(CheckAddress("10.0.0.1/x").ok());
}

TEST(StateStore, SavesAtomicallyAndReadsBack) {
  std::string dir = "/tmp/fla-state-" + std::to_string(getpid());
  StateStore store(dir + "/nested");
  ASSERT_TRUE(store.Init().ok());
  nlohmann::json state;
  ASSERT_TRUE(store.Load(&state).ok());
  EXPECT_TRUE(state["faults"].empty());
  state["faults"].push_back({{"run", "r"}, {"fault", "f"}, {"action", "disk.fill"}});
  {
    std::unique_ptr<StateStore::Guard> lock;
    ASSERT_TRUE(store.Lock(&lock).ok());
    ASSERT_TRUE(store.Save(state).ok());
  }
  nlohmann::json back;
  ASSERT_TRUE(store.Load(&back).ok());
  ASSERT_NE(FindFault(back, "r", "f"), nullptr);
  EXPECT_EQ(FindFault(back, "r", "g"), nullptr);
  RemoveFault(back, "r", "f");
  EXPECT_TRUE(back["faults"].empty());
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/nested")) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2);  // state.json and lock
  std::filesystem::remove_all(dir);
}

TEST(StateStore, CorruptFileIsAnErrorNotAnEmptyState) {
  std::string dir = "/tmp/fla-state-bad-" + std::to_string(getpid());
  StateStore store(dir);
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(WriteFileAtomic(store.path(), "{not json").ok());
  nlohmann::json state;
  EXPECT_EQ(store.Load(&state).code(), Status::Code::kInternal);
  std::filesystem::remove_all(dir);
}

TEST(Processes, PatternFindsOurChildButNeverTheCaller) {
  std::string marker = std::to_string(600000 + getpid() % 90000);
  pid_t child = fork();
  if (child == 0) {
    execlp("sleep", "sleep", marker.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{child};
  std::vector<ProcessId> found;
  for (int i = 0; i < 50 && found.empty(); ++i) {
    usleep(20000);
    found.clear();
    ASSERT_TRUE(FindByPattern("^sleep " + marker + "$", &found).ok());
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, child);
  EXPECT_TRUE(SameProcess(found[0]));
  // The caller's own command line matches this pattern; it is never a target.
  found.clear();
  ASSERT_TRUE(FindByPattern("agent_core_test", &found).ok());
  for (const auto& f : found) EXPECT_NE(f.pid, getpid());
  EXPECT_FALSE(FindByPattern("(", &found).ok());
}

TEST(Processes, JavaMainClassIsTheFirstArgumentAfterTheJvmOptions) {
  // A stand-in JVM: bash under the name `java`, so /proc shows a java command line with
  // -cp and a main class; it waits on a pipe we hold (no child process of its own).
  std::string dir = "/tmp/fla-java-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("/bin/bash", dir + "/java");
  int hold[2];
  ASSERT_EQ(pipe(hold), 0);
  pid_t child = fork();
  if (child == 0) {
    dup2(hold[0], 0);
    close(hold[1]);
    execl((dir + "/java").c_str(), "java", "-e", "-cp", "read -t 60 x; true", "org.example.Main",
          "--port", "2181", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(hold[0]);
  struct Reap {
    pid_t pid;
    int fd;
    std::string dir;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(fd);
      std::filesystem::remove_all(dir);
    }
  } reap{child, hold[1], dir};
  std::vector<ProcessId> found;
  for (int i = 0; i < 50 && found.empty(); ++i) {
    usleep(20000);
    found.clear();
    ASSERT_TRUE(FindByJavaClass("org.example.Main", &found).ok());
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid, child);
  found.clear();
  ASSERT_TRUE(FindByJavaClass("org.example.Other", &found).ok());
  EXPECT_TRUE(found.empty());
  found.clear();
  // The value of -cp is not a main class, nor is an argument after the main class.
  ASSERT_TRUE(FindByJavaClass("2181", &found).ok());
  EXPECT_TRUE(found.empty());
}

}  // namespace
}  // namespace faultline::agent

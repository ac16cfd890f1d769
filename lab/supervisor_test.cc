// faultline-supervisor with real child processes, over its Unix socket; no root needed.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "lab/supervisor.h"
#include "lab/sys.h"

namespace faultline::lab {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fll-sup-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/run");
    fs::create_directories(dir_ + "/logs");
    SupervisorConfig c;
    c.host = "h1";
    c.socket = dir_ + "/sup.sock";
    c.run_dir = dir_ + "/run";
    c.log_dir = dir_ + "/logs";
    c.services = {{"sleeper", {"/bin/sh", "-c", "echo up; exec sleep 300"}, {}, "/", true, 2000},
                  // Ignores SIGTERM: stop must end it anyway.
                  {"stubborn", {"/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done"}, {}, "/", false, 300},
                  {"missing", {"/nonexistent/program"}, {}, "/", false, 1000}};
    ASSERT_TRUE(SaveSupervisorConfig(dir_ + "/sup.json", c).ok());
    const std::string sup = FindProgram("faultline-supervisor");
    ASSERT_FALSE(sup.empty());
    DaemonSpec d;
    d.argv = {sup, "run", dir_ + "/sup.json"};
    d.log_file = dir_ + "/logs/supervisor.log";
    ASSERT_TRUE(SpawnDaemon(d, &pid_).ok());
    start_ = ProcessStartTime(pid_);
    // A loaded machine (CI builds beside it) may take seconds to start a process.
    for (int i = 0; i < 1000 && !fs::exists(dir_ + "/run/sleeper.pid"); ++i) std::this_thread::sleep_for(10ms);
  }
  void TearDown() override {
    EndProcess(pid_, start_, 5s);
    fs::remove_all(dir_);
  }
  std::string Ask(const std::string& req) {
    std::string reply;
    Status st = SupervisorRequest(dir_ + "/sup.sock", req, &reply, 10s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return reply;
  }
  pid_t ServicePid(const std::string& name) {
    std::string text = ReadFileOr(dir_ + "/run/" + name + ".pid");
    return text.empty() ? 0 : std::stoi(text);
  }

  std::string dir_;
  pid_t pid_ = 0;
  unsigned long long start_ = 0;
};

TEST_F(SupervisorTest, StartStopStatusWithRealProcesses) {
  pid_t sleeper = ServicePid("sleeper");
  ASSERT_GT(sleeper, 0) << "autostart";
  EXPECT_TRUE(ProcessAlive(sleeper));
  EXPECT_EQ(ReplyExitCode(Ask("status sleeper")), 0);
  EXPECT_EQ(ReplyExitCode(Ask("status stubborn")), 3);
  EXPECT_EQ(ReplyExitCode(Ask("start sleeper")), 0) << "starting a running service is a no-op";
  EXPECT_EQ(ServicePid("sleeper"), sleeper);

  EXPECT_EQ(ReplyExitCode(Ask("stop sleeper")), 0);
  EXPECT_FALSE(ProcessAlive(sleeper));
  EXPECT_FALSE(fs::exists(dir_ + "/run/sleeper.pid"));
  EXPECT_EQ(ReplyExitCode(Ask("status sleeper")), 3);
  EXPECT_EQ(ReplyExitCode(Ask("stop sleeper")), 0) << "stopping a stopped service is a no-op";

  EXPECT_EQ(ReplyExitCode(Ask("start stubborn")), 0);
  pid_t stubborn = ServicePid("stubborn");
  ASSERT_GT(stubborn, 0);
  // Its shell ignores SIGTERM only once the trap has run; it says "up" after that.
  for (int i = 0; i < 500 && ReadFileOr(dir_ + "/logs/stubborn.log").find("up\n") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(ReadFileOr(dir_ + "/logs/stubborn.log").find("up\n"), std::string::npos) << "stubborn never started";
  EXPECT_EQ(ReplyExitCode(Ask("stop stubborn")), 0);
  EXPECT_FALSE(ProcessAlive(stubborn)) << "SIGKILL after the stop timeout";
  EXPECT_NE(ReadFileOr(dir_ + "/logs/supervisor.log").find("ignored SIGTERM"), std::string::npos);
}

TEST_F(SupervisorTest, AKilledServiceStaysDownAndSaysHow) {
  pid_t sleeper = ServicePid("sleeper");
  ASSERT_GT(sleeper, 0);
  ::kill(sleeper, SIGKILL);
  std::string reply;
  for (int i = 0; i < 200; ++i) {
    reply = Ask("status sleeper");
    if (ReplyExitCode(reply) == 3) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ReplyExitCode(reply), 3);
  EXPECT_NE(reply.find("killed by signal 9"), std::string::npos) << reply;
  EXPECT_NE(ReadFileOr(dir_ + "/logs/sleeper.log").find("died: killed by signal 9"), std::string::npos);
  EXPECT_EQ(ReplyExitCode(Ask("start sleeper")), 0);
  EXPECT_NE(ServicePid("sleeper"), sleeper);
}

TEST_F(SupervisorTest, ErrorsAreClear) {
  std::string reply = Ask("start missing");
  EXPECT_EQ(ReplyExitCode(reply), 1);
  EXPECT_NE(reply.find("/nonexistent/program"), std::string::npos) << reply;
  reply = Ask("stop nosuch");
  EXPECT_EQ(ReplyExitCode(reply), 1);
  EXPECT_NE(reply.find("known: missing, sleeper, stubborn"), std::string::npos) << reply;
  EXPECT_NE(Ask("list").find("sleeper=running:"), std::string::npos);
}

TEST_F(SupervisorTest, SigtermStopsEveryService) {
  pid_t sleeper = ServicePid("sleeper");
  ASSERT_GT(sleeper, 0);
  EndProcess(pid_, start_, 5s);
  EXPECT_FALSE(ProcessAlive(pid_));
  EXPECT_FALSE(ProcessAlive(sleeper));
  EXPECT_FALSE(fs::exists(dir_ + "/sup.sock"));
}

}  // namespace
}  // namespace faultline::lab

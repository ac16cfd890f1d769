// Test support for the report writers: synthetic journals, a temporary directory that removes
// itself, and running a program (xmllint, chromium) with a time limit. Header-only so that it
// stays out of the library.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/journal.h"

namespace faultline::testing {

// The checkout's root, from this header's own path (sources are compiled by absolute path).
inline std::string SourceRoot() {
  std::filesystem::path here(__FILE__);
  return here.parent_path().parent_path().parent_path().string();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "faultline-report-XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct RunResult {
  int exit_code = -1;  // -1: killed at the time limit or could not start
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

// Runs argv in its own process group with output to a file; if the time limit passes, the
// group (the process we started and its children, e.g. chromium's renderers) is killed.
inline RunResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch_dir,
                            std::chrono::seconds limit) {
  RunResult result;
  std::string out_path = scratch_dir + "/run-output.txt";
  pid_t pid = ::fork();
  if (pid < 0) return result;
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here, so the group exists before any kill below

  // Kills what is left of the group if this scope is left early (a failed assertion).
  struct GroupGuard {
    pid_t pgid;
    bool reaped = false;
    ~GroupGuard() {
      ::kill(-pgid, SIGKILL);
      if (!reaped) ::waitpid(pgid, nullptr, 0);
    }
  } guard{pid};

  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      guard.reaped = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      guard.reaped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.output = ReadFile(out_path);
  return result;
}

// A journal with every field set: three ZooKeeper hosts, the leader stopped at +5 s and
// started again at +12 s, a new leader at +7 s.
inline Journal ZkLeaderStopJournal() {
  Journal j;
  j.run_id = "run-20261122-0430";
  j.drill = "F1";
  j.title = "One ZooKeeper server stopped";
  j.drill_file = "drills/F1.yaml";
  j.inventory = "lab";
  j.started_at = "2026-11-22T04:30:00.125Z";
  j.duration_ms = 20000;
  j.exit_code = 0;
  j.hosts = {"zk1", "zk2", "zk3"};
  j.phases = {{"preflight", 0, 2000}, {"faults", 2000, 12000}, {"recovery", 12000, 19000},
              {"report", 19000, 20000}};
  j.faults.push_back(JournalFaultWindow{"stop-leader", "service.stop", {"zk1"}, 5000, 12000.0, true});
  j.actions.push_back(JournalAction{4100, 12, "zk1", "stop-leader", "resolve",
                                    "zk.leader -> zk1", true, ""});
  j.actions.push_back(JournalAction{5000, 850, "zk1", "stop-leader", "inject",
                                    "systemctl stop zookeeper", true, ""});
  j.actions.push_back(JournalAction{12000, 1430, "zk1", "stop-leader", "revert",
                                    "systemctl start zookeeper", true, ""});
  j.samples.push_back(JournalSample{"zk.leader", 4000, "zk1", false, ""});
  j.samples.push_back(JournalSample{"zk.leader", 5100, nullptr, false, ""});
  j.samples.push_back(JournalSample{"zk.leader", 7000, "zk2", false, ""});
  j.samples.push_back(JournalSample{"zk.mode{host=zk1}", 6000, nullptr, true,
                                    "connect zk1:2181: connection refused"});
  j.samples.push_back(JournalSample{"zk.mntr{host=zk2}", 7000,
                                    nlohmann::json{{"zk_server_state", "leader"},
                                                   {"zk_znode_count", 42}},
                                    false, ""});
  j.roles = {{"zk1", 0, "leader"},    {"zk2", 0, "follower"},  {"zk3", 0, "follower"},
             {"zk1", 5000, "down"},   {"zk2", 5000, "looking"}, {"zk2", 7000, "leader"},
             {"zk1", 12000, "follower"}, {"zk2", 14000, "follower"}};
  JournalVerdict v;
  v.id = "new-leader";
  v.expected = "zk.leader ≠ zk1 within 10s of stop-leader";
  v.observed = "zk2 at +7.0s";
  v.result = JournalVerdict::Result::kPass;
  v.observed_ms = 7000;
  v.window_start_ms = 5000;
  v.deadline_ms = 15000;
  v.recovery_ms = 2000;
  v.message = "";
  v.mark = SourceMark{"drills/F1.yaml", 14, 5};
  j.verdicts.push_back(v);
  JournalVerdict w;
  w.id = "quorum-always";
  w.expected = "zk.quorum = true always";
  w.observed = "true at every sample";
  w.result = JournalVerdict::Result::kPass;
  w.window_start_ms = 5000;
  w.deadline_ms = 19000;
  w.mark = SourceMark{"drills/F1.yaml", 18, 5};
  j.verdicts.push_back(w);
  j.notes = {"netem missing on zk2: NFQUEUE delayer used"};
  j.attachments = {{"zk1 log", "attachments/zk1/zookeeper.log"}};
  return j;
}

// HDFS failover where the new active came too late and the fault was never reverted.
inline Journal FailedFailoverJournal() {
  Journal j;
  j.run_id = "run-20261122-0430";
  j.drill = "F3";
  j.title = "Active NameNode crash";
  j.drill_file = "drills/F3.yaml";
  j.inventory = "lab";
  j.started_at = "2026-11-22T04:31:00Z";
  j.duration_ms = 20000;
  j.exit_code = 4;
  j.hosts = {"nn1", "nn2"};
  j.faults.push_back(JournalFaultWindow{"kill-active", "process.kill", {"nn1"}, 8000,
                                        std::nullopt, false});
  j.actions.push_back(JournalAction{8000, 20, "nn1", "kill-active", "inject",
                                    "kill -9 namenode (pid 4242)", true, ""});
  j.actions.push_back(JournalAction{17000, 3000, "nn1", "kill-active", "revert",
                                    "start namenode", false, "ssh: connection timed out"});
  j.roles = {{"nn1", 0, "active"}, {"nn2", 0, "standby"}, {"nn1", 8000, "down"},
             {"nn2", 11000, "active"}};
  JournalVerdict v;
  v.id = "failover";
  v.expected = "hdfs.active ≠ nn1 within 2s of kill-active";
  v.observed = "nn2 at +3.0s";
  v.result = JournalVerdict::Result::kFail;
  v.observed_ms = 11000;
  v.window_start_ms = 8000;
  v.deadline_ms = 10000;
  v.recovery_ms = 3000;
  v.message = "expected hdfs.active ≠ nn1 within 2s of kill-active; observed nn2 at +3.0s";
  v.mark = SourceMark{"drills/F3.yaml", 21, 5};
  j.verdicts.push_back(v);
  JournalVerdict u;
  u.id = "single-active";
  u.expected = "hdfs.active_count ≤ 1 always";
  u.observed = "unreachable from +12.0s: haadmin timed out";
  u.result = JournalVerdict::Result::kUnknown;
  u.window_start_ms = 8000;
  u.mark = SourceMark{"drills/F3.yaml", 25, 5};
  j.verdicts.push_back(u);
  j.leftovers = {"nn1: namenode not started again (revert failed: ssh: connection timed out)"};
  return j;
}

}  // namespace faultline::testing

#include "faults/local_transport.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace faultline {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/flb-transport-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(LocalTransport, ExecCapturesOutputAndStatus) {
  LocalTransport t("h1", "");
  ExecResult r;
  ASSERT_TRUE(t.Exec({{"sh", "-c", "echo out; echo err >&2; exit 7"}}, &r).ok());
  EXPECT_EQ(r.exit_status, 7);
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(LocalTransport, ExecFeedsStdin) {
  LocalTransport t("h1", "");
  ExecRequest req{{"cat"}, "line one\nline two\n"};
  ExecResult r;
  ASSERT_TRUE(t.Exec(req, &r).ok());
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.stdout_data, "line one\nline two\n");
}

TEST(LocalTransport, ArgumentsReachTheProgramUnsplit) {
  LocalTransport t("h1", "");
  ExecResult r;
  ASSERT_TRUE(t.Exec({{"printf", "%s|", "a b", "$HOME", "'q'"}}, &r).ok());
  EXPECT_EQ(r.stdout_data, "a b|$HOME|'q'|");
}

TEST(LocalTransport, MissingProgramIsUnavailable) {
  LocalTransport t("h1", "");
  ExecResult r;
  Status st = t.Exec({{"no-such-program-flb"}}, &r);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("h1: command not found in PATH: no-such-program-flb"), std::string::npos)
      << st.message();
}

TEST(LocalTransport, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  std::string pidfile = (dir.path / "grandchild.pid").string();
  LocalTransport t("h1", "");
  ExecRequest req{{"sh", "-c", "sleep 30 & echo $! > " + pidfile + "; wait"}, "", 300ms};
  ExecResult r;
  Status st = t.Exec(req, &r);
  EXPECT_EQ(st.code(), Status::Code::kTimeout);
  EXPECT_TRUE(r.timed_out);
  std::ifstream in(pidfile);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  // The grandchild was in the killed group; it is gone (or a zombie about to be reaped by init).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string line;
    std::getline(stat, line);
    gone = line.empty() || line.find(") Z") != std::string::npos;
    if (!gone) usleep(10000);
  }
  if (!gone) ::kill(grandchild, SIGKILL);
  EXPECT_TRUE(gone);
}

TEST(LocalTransport, BackgroundedDaemonDoesNotHoldExecOpen) {
  TempDir dir;
  std::string pidfile = (dir.path / "daemon.pid").string();
  LocalTransport t("h1", "");
  ExecRequest req{{"sh", "-c", "sleep 30 & echo $! > " + pidfile + "; echo started"}, "", 10s};
  ExecResult r;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.Exec(req, &r).ok());
  auto took = std::chrono::steady_clock::now() - start;
  std::ifstream in(pidfile);
  pid_t daemon = 0;
  in >> daemon;
  ASSERT_GT(daemon, 0);
  // The daemon survives the command that started it (it is not ours to kill) ...
  EXPECT_EQ(::kill(daemon, 0), 0);
  ::kill(daemon, SIGKILL);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.stdout_data, "started\n");
  // ... and Exec returned without waiting for it to close its copy of stdout.
  EXPECT_LT(took, 5s);
}

TEST(LocalTransport, ChannelSpeaksLines) {
  LocalTransport t("h1", "");
  std::unique_ptr<Channel> ch;
  ASSERT_TRUE(t.Open({"sh", "-c", "while read l; do echo \"got $l\"; done"}, &ch).ok());
  ASSERT_TRUE(ch->WriteLine("one").ok());
  ASSERT_TRUE(ch->WriteLine("two").ok());
  std::string line;
  ASSERT_TRUE(ch->ReadLine(&line, 5s).ok());
  EXPECT_EQ(line, "got one");
  ASSERT_TRUE(ch->ReadLine(&line, 5s).ok());
  EXPECT_EQ(line, "got two");
  EXPECT_EQ(ch->ReadLine(&line, 50ms).code(), Status::Code::kTimeout);
  ch->Close();
}

TEST(LocalTransport, ChannelReportsTheEndOfTheProcess) {
  LocalTransport t("h1", "");
  std::unique_ptr<Channel> ch;
  ASSERT_TRUE(t.Open({"sh", "-c", "echo bye; echo broken >&2; exit 3"}, &ch).ok());
  std::string line;
  ASSERT_TRUE(ch->ReadLine(&line, 5s).ok());
  EXPECT_EQ(line, "bye");
  Status st = ch->ReadLine(&line, 5s);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("process ended"), std::string::npos) << st.message();
}

TEST(LocalTransport, UploadIsAtomicWithMode) {
  TempDir dir;
  std::string src = (dir.path / "src").string();
  std::string dst = (dir.path / "dst").string();
  std::ofstream(src) << "payload";
  LocalTransport t("h1", "");
  ASSERT_TRUE(t.Upload(src, dst, 0750).ok());
  std::ifstream in(dst);
  std::string got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, "payload");
  struct stat st {};
  ASSERT_EQ(::stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) (void)e, ++entries;
  EXPECT_EQ(entries, 2);  // no temporary left behind
}

TEST(LocalTransport, NetnsPrefixesCommands) {
  LocalTransport t("h1", "flb-x");
  EXPECT_EQ(t.Wrap({"true"}), (std::vector<std::string>{"ip", "netns", "exec", "flb-x", "true"}));
  EXPECT_EQ(t.Describe(), "netns flb-x");
}

}  // namespace
}  // namespace faultline

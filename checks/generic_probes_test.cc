#include "checks/generic_probes.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "checks/probe.h"
#include "faults/command_fault.h"
#include "faults/local_transport.h"

namespace faultline {
namespace {

using namespace std::chrono_literals;

class LocalContext : public ProbeContext {
 public:
  LocalContext() {
    InventoryHost h;
    h.name = "app1";
    h.vars["ansible_host"] = "127.0.0.1";
    inv_.hosts["app1"] = h;
  }
  const Inventory& inventory() const override { return inv_; }
  Transport* TransportFor(const std::string& host) override { return host == "app1" ? &t_ : nullptr; }
  double NowMs() const override { return now_ms; }
  double StartedAtEpoch() const override { return 0; }
  std::optional<double> FaultStartedMs(const std::string& fault) const override {
    if (fault == "f1" && fault_started) return *fault_started;
    return std::nullopt;
  }
  double now_ms = 0;
  std::optional<double> fault_started;
  Inventory inv_;
  LocalTransport t_{"app1", ""};
};

std::unique_ptr<Probe> Make(const std::string& name, nlohmann::json params, const Inventory& inv) {
  static bool once = (RegisterGenericProbes(), true);
  (void)once;
  ProbeSpec spec;
  spec.name = name;
  spec.params = std::move(params);
  spec.mark = {"d.yaml", 4, 7};
  std::unique_ptr<Probe> p;
  Status st = ProbeRegistry::Global().Make(spec, inv, &p);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return p;
}

Status MakeError(const std::string& name, nlohmann::json params, const Inventory& inv) {
  RegisterGenericProbes();
  ProbeSpec spec{name, std::move(params), {"d.yaml", 4, 7}};
  std::unique_ptr<Probe> p;
  return ProbeRegistry::Global().Make(spec, inv, &p);
}

TEST(CommandProbe, ExitStatusStdoutAndOk) {
  LocalContext ctx;
  auto exit_probe = Make("command", {{"host", "app1"}, {"command", "sh -c 'exit 3'"}}, ctx.inv_);
  EXPECT_EQ(exit_probe->Sample(ctx, 5s).value, 3);
  auto out_probe = Make("command", {{"host", "app1"}, {"command", {"echo", "  nn2 "}}, {"value", "stdout"}}, ctx.inv_);
  EXPECT_EQ(out_probe->Sample(ctx, 5s).value, "nn2");
  auto empty_probe = Make("command", {{"host", "app1"}, {"command", "true"}, {"value", "stdout"}}, ctx.inv_);
  EXPECT_TRUE(empty_probe->Sample(ctx, 5s).value.is_null());
  auto ok_probe = Make("command", {{"host", "app1"}, {"command", "false"}, {"value", "ok"}}, ctx.inv_);
  EXPECT_EQ(ok_probe->Sample(ctx, 5s).value, false);
}

TEST(CommandProbe, UnrunnableCommandIsUnreachable) {
  LocalContext ctx;
  auto p = Make("command", {{"host", "app1"}, {"command", "no-such-program-flb"}}, ctx.inv_);
  Observation o = p->Sample(ctx, 5s);
  EXPECT_TRUE(o.unreachable);
  EXPECT_NE(o.error.find("command not found"), std::string::npos) << o.error;
  auto slow = Make("command", {{"host", "app1"}, {"command", "sleep 5"}}, ctx.inv_);
  Observation t = slow->Sample(ctx, 100ms);
  EXPECT_TRUE(t.unreachable);
  EXPECT_NE(t.error.find("did not finish within 100ms"), std::string::npos) << t.error;
}

TEST(CommandProbe, ParameterErrorsNameTheDrillPosition) {
  LocalContext ctx;
  Status st = MakeError("command", {{"host", "app1"}, {"command", "x"}, {"value", "stdin"}}, ctx.inv_);
  EXPECT_EQ(st.message(), "d.yaml:4:7: probe command: parameter 'value' is 'stdin'; expected one of exit, stdout, ok");
  st = MakeError("command", {{"host", "nope"}, {"command", "x"}}, ctx.inv_);
  EXPECT_EQ(st.message(), "d.yaml:4:7: probe command: host 'nope' is not in the inventory");
  st = MakeError("tcp", {{"host", "app1"}, {"port", 70000}}, ctx.inv_);
  EXPECT_EQ(st.message(), "d.yaml:4:7: probe tcp: parameter 'port' is '70000'; expected a number from 1 to 65535");
  st = MakeError("log", {{"host", "app1"}, {"path", "/x"}, {"pattern", "(["}}, ctx.inv_);
  EXPECT_NE(st.message().find("d.yaml:4:7: probe log: parameter 'pattern' is not a valid regular expression"),
            std::string::npos);
}

TEST(TcpProbe, SeesAListenerComeAndGo) {
  LocalContext ctx;
  int port = 23050 + (getpid() % 40);  // 23050-23089: clear of the run labtest's ports
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "port " << port;
  ASSERT_EQ(::listen(fd, 8), 0);
  auto p = Make("tcp", {{"host", "app1"}, {"port", port}}, ctx.inv_);
  EXPECT_EQ(p->Sample(ctx, 1s).value, true);
  ::close(fd);
  EXPECT_EQ(p->Sample(ctx, 1s).value, false);
}

struct TempFile {
  std::string path;
  TempFile() {
    char tmpl[] = "/tmp/flb-log-XXXXXX";
    int fd = mkstemp(tmpl);
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { std::filesystem::remove(path); }
  void Append(const std::string& s) { std::ofstream(path, std::ios::app) << s; }
};

TEST(LogProbe, CountsOnlyLinesWrittenInTheWindow) {
  LocalContext ctx;
  TempFile log;
  log.Append("LEADING - LEADER ELECTION TOOK - 12 old\n");
  auto count = Make("log", {{"host", "app1"}, {"path", log.path}, {"pattern", "LEADER ELECTION TOOK"}}, ctx.inv_);
  auto since = Make("log", {{"host", "app1"}, {"path", log.path}, {"pattern", "ELECTION TOOK - (\\d+)"},
                            {"since", "f1"}, {"value", "last"}}, ctx.inv_);
  EXPECT_EQ(count->Sample(ctx, 5s).value, 0);  // the old line predates the run
  EXPECT_TRUE(since->Sample(ctx, 5s).value.is_null());
  ctx.now_ms = 100;
  log.Append("FOLLOWING - LEADER ELECTION TOOK - 40\nunrelated\nLEADING - LEADER ELECT");
  EXPECT_EQ(count->Sample(ctx, 5s).value, 1);
  ctx.fault_started = 150;
  ctx.now_ms = 200;
  log.Append("ION TOOK - 7\n");  // completes the partial line
  EXPECT_EQ(count->Sample(ctx, 5s).value, 2);
  EXPECT_EQ(since->Sample(ctx, 5s).value, "LEADING - LEADER ELECTION TOOK - 7");
}

TEST(LogProbe, MissingFileIsUnreachable) {
  LocalContext ctx;
  auto p = Make("log", {{"host", "app1"}, {"path", "/nonexistent/flb.log"}, {"pattern", "x"}}, ctx.inv_);
  Observation o = p->Sample(ctx, 5s);
  EXPECT_TRUE(o.unreachable);
  EXPECT_NE(o.error.find("app1: cannot read /nonexistent/flb.log"), std::string::npos) << o.error;
}

TEST(CommandWords, SplitsLikeAShellWithoutExpanding) {
  std::vector<std::string> argv;
  std::string why;
  ASSERT_TRUE(ParseCommandWords("sh -c 'kill -STOP $(cat /run/x.pid)' \"a \\\"b\\\"\" c\\ d", &argv, &why));
  EXPECT_EQ(argv, (std::vector<std::string>{"sh", "-c", "kill -STOP $(cat /run/x.pid)", "a \"b\"", "c d"}));
  EXPECT_FALSE(ParseCommandWords("echo 'open", &argv, &why));
  EXPECT_EQ(why, "unterminated single quote in command");
  EXPECT_FALSE(ParseCommandWords(nlohmann::json::array({"a", true}), &argv, &why));
  EXPECT_EQ(why, "expected every element of the command list to be a string or a list of strings, found boolean");
  EXPECT_FALSE(ParseCommandWords("   ", &argv, &why));
  EXPECT_EQ(why, "expected a command, found an empty one");
}

TEST(CommandFault, InjectAndRevertAreVerifiedAndIdempotent) {
  RegisterCommandFault();
  TempFile marker;
  std::filesystem::remove(marker.path);
  FaultInstance f;
  f.fault = "flag";
  f.action = "command";
  f.host = "app1";
  f.params = {{"inject", {"touch", marker.path}}, {"revert", {"rm", "-f", marker.path}},
              {"check", {"test", "-e", marker.path}}};
  auto driver = FaultCatalogue::Global().MakeDriver("command");
  ASSERT_TRUE(driver);
  LocalTransport t("app1", "");
  InjectOutcome out;
  ASSERT_TRUE(driver->Inject(f, t, &out).ok());
  EXPECT_TRUE(std::filesystem::exists(marker.path));
  EXPECT_NE(out.detail.find("check confirms it"), std::string::npos) << out.detail;
  ASSERT_TRUE(driver->Inject(f, t, &out).ok());
  EXPECT_NE(out.detail.find("already in place"), std::string::npos) << out.detail;
  std::string detail;
  ASSERT_TRUE(driver->Revert(f, t, &detail).ok());
  EXPECT_FALSE(std::filesystem::exists(marker.path));
  ASSERT_TRUE(driver->Revert(f, t, &detail).ok());
  EXPECT_NE(detail.find("not in place"), std::string::npos) << detail;
}

TEST(CommandFault, FailingCommandNamesHostAndExpectation) {
  RegisterCommandFault();
  FaultInstance f;
  f.fault = "broken";
  f.host = "app1";
  f.params = {{"inject", "sh -c 'echo nope >&2; exit 5'"}, {"revert", "true"}};
  auto driver = FaultCatalogue::Global().MakeDriver("command");
  LocalTransport t("app1", "");
  InjectOutcome out;
  Status st = driver->Inject(f, t, &out);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "app1: fault broken: inject command sh -c 'echo nope >&2; exit 5' exited with status 5 (expected 0): nope");
}

TEST(CommandWords, ListsInsideAreSplicedAndListsOfListsAreSequences) {
  std::vector<std::string> argv;
  std::string why;
  // A variable holding a command as a list of words, inside a command.
  ASSERT_TRUE(ParseCommandWords(nlohmann::json{"sudo", {"systemctl", "stop", "zk"}}, &argv, &why)) << why;
  EXPECT_EQ(argv, (std::vector<std::string>{"sudo", "systemctl", "stop", "zk"}));
  EXPECT_FALSE(ParseCommandWords(nlohmann::json{"a", {"b", {"c"}}}, &argv, &why));
  EXPECT_EQ(why, "expected every element of the command list to be a string, found array");
  std::vector<std::vector<std::string>> cmds;
  ASSERT_TRUE(ParseCommandSequence(nlohmann::json{{"cp", "a", "b"}, {{"systemctl", "start", "zk"}}}, &cmds, &why));
  EXPECT_EQ(cmds, (std::vector<std::vector<std::string>>{{"cp", "a", "b"}, {"systemctl", "start", "zk"}}));
  ASSERT_TRUE(ParseCommandSequence("systemctl start zk", &cmds, &why));
  EXPECT_EQ(cmds, (std::vector<std::vector<std::string>>{{"systemctl", "start", "zk"}}));
  EXPECT_FALSE(ParseCommandSequence(nlohmann::json{{"cp", "a"}, nlohmann::json::array()}, &cmds, &why));
  EXPECT_EQ(why, "command 2 of 2: expected a command, found an empty one");
}

TEST(CommandFault, ASequenceRunsInOrderAndStopsAtTheFirstFailure) {
  RegisterCommandFault();
  TempFile log;
  FaultInstance f;
  f.fault = "steps";
  f.host = "app1";
  f.params = {{"inject", {{"sh", "-c", "echo one >> \"$0\"", log.path}, {"sh", "-c", "echo two >> \"$0\"", log.path}}},
              {"revert", {{"sh", "-c", "echo three >> \"$0\"", log.path}, {"false"}, {"sh", "-c", "echo four >> \"$0\"", log.path}}}};
  auto driver = FaultCatalogue::Global().MakeDriver("command");
  LocalTransport t("app1", "");
  InjectOutcome out;
  ASSERT_TRUE(driver->Inject(f, t, &out).ok());
  std::string detail;
  Status st = driver->Revert(f, t, &detail);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("revert command false exited with status 1 (expected 0) (command 2 of 3; ran sh -c"),
            std::string::npos) << st.message();
  std::ifstream in(log.path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "one\ntwo\nthree\n");
}

}  // namespace
}  // namespace faultline

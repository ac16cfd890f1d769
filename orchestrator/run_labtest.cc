// The run engine end to end on this machine: a real TCP listener process, a `command`
// fault that stops it and starts it again, tcp/command/log probes that watch it, the
// verdicts, the journal and the reports; the same drill interrupted with SIGINT.
//
// The listener is this very binary started again with FLB_LISTENER_PORT set (see
// BecomeListenerIfAsked), so the test needs nothing installed. Ports 23010-23019.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "checks/probe.h"
#include "faults/fault.h"
#include "faults/local_transport.h"
#include "orchestrator/commands.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/inventory.h"
#include "orchestrator/journal.h"
#include "orchestrator/registry.h"
#include "orchestrator/run.h"

extern char** environ;

namespace faultline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Runs before main: as the listener, this process accepts and closes connections until
// it is killed, and gives up by itself after ten minutes whatever happens.
int BecomeListenerIfAsked() {
  const char* port = std::getenv("FLB_LISTENER_PORT");
  if (!port) return 0;
  alarm(600);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) _exit(1);
  if (const char* log = std::getenv("FLB_LISTENER_LOG")) {
    std::ofstream(log, std::ios::app) << "listening on port " << port << " pid " << getpid() << "\n";
  }
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) ::close(c);
  }
}
[[maybe_unused]] const int kBecameListener = BecomeListenerIfAsked();

std::string SelfExe() { return fs::read_symlink("/proc/self/exe").string(); }

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RepoRoot() { return fs::path(__FILE__).parent_path().parent_path().string(); }

// A scratch directory and every listener started for it. Listeners are found by PID:
// this binary's processes whose environment names this directory; nothing else is touched.
class Scene {
 public:
  explicit Scene(int port) : port_(port) {
    char tmpl[] = "/tmp/flb-run-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~Scene() {
    KillListeners();
    fs::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // The test drill with its placeholders filled in.
  std::string DrillText(const std::string& duration) const {
    std::string text = ReadFile(RepoRoot() + "/tests/drills/listener_restart.yaml");
    auto replace = [&text](const std::string& from, const std::string& to) {
      for (size_t p = 0; (p = text.find(from, p)) != std::string::npos; p += to.size()) text.replace(p, from.size(), to);
    };
    replace("@PORT@", std::to_string(port_));
    replace("@DIR@", dir_);
    replace("@LISTENER@", SelfExe());
    replace("@DURATION@", duration);
    return text;
  }
  std::string WriteDrill(const std::string& duration, const std::string& extra = "") const {
    std::string path = dir_ + "/listener_restart.yaml";
    std::ofstream(path) << DrillText(duration) << extra;
    return path;
  }
  std::string InventoryPath() const { return RepoRoot() + "/tests/drills/local.ini"; }

  // Starts the listener the way the drill's revert does, and waits until it accepts.
  void StartListener() {
    LocalTransport t("app1", "");
    ExecResult r;
    std::string cmd = "FLB_LISTENER_PORT=" + std::to_string(port_) + " FLB_LISTENER_LOG=" + dir_ +
                      "/listener.log " + SelfExe() + " >/dev/null 2>&1 & echo $! > " + dir_ + "/listener.pid";
    ASSERT_TRUE(t.Exec({{"sh", "-c", cmd}}, &r).ok());
    ASSERT_TRUE(WaitFor([&] { return Accepts(port_); }, 5s)) << "listener did not start on port " << port_;
  }
  pid_t ListenerPid() const { return static_cast<pid_t>(std::atol(ReadFile(dir_ + "/listener.pid").c_str())); }

 private:
  void KillListeners() {
    const std::string exe = SelfExe();
    const std::string marker = "FLB_LISTENER_LOG=" + dir_ + "/listener.log";
    for (const auto& entry : fs::directory_iterator("/proc")) {
      pid_t pid = static_cast<pid_t>(std::atol(entry.path().filename().c_str()));
      if (pid <= 0 || pid == getpid()) continue;
      std::error_code ec;
      if (fs::read_symlink(entry.path() / "exe", ec).string() != exe) continue;
      std::string env = ReadFile((entry.path() / "environ").string());
      for (auto& c : env) if (c == '\0') c = '\n';
      if (env.find(marker + "\n") != std::string::npos) ::kill(pid, SIGKILL);
    }
  }

  int port_;
  std::string dir_;
};

struct Loaded {
  Drill drill;
  Inventory inventory;
};

void Load(const Scene& scene, const std::string& duration, const std::string& extra, Loaded* out) {
  RegisterEverything();
  Status st = ParseDrillText(scene.DrillText(duration) + extra, scene.dir() + "/listener_restart.yaml", &out->drill);
  ASSERT_TRUE(st.ok()) << st.message();
  st = LoadInventory(scene.InventoryPath(), &out->inventory);
  ASSERT_TRUE(st.ok()) << st.message();
}

const JournalVerdict* FindVerdict(const Journal& j, const std::string& id) {
  for (const auto& v : j.verdicts) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

TEST(RunDrill, ListenerStoppedAndStartedAgain) {
  Scene scene(23010);
  scene.StartListener();
  pid_t first = scene.ListenerPid();
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(Load(scene, "2s", "", &l));
  Journal j;
  RunSettings settings;
  settings.run_id = "flb-test-1";
  Status st = RunDrill(l.drill, l.inventory, settings, &j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const auto& v : j.verdicts) {
    EXPECT_EQ(v.result, JournalVerdict::Result::kPass) << v.id << ": " << v.message;
  }
  EXPECT_EQ(j.exit_code, kExitOk);
  ASSERT_EQ(j.verdicts.size(), 5u);  // four expectations and recovery
  const JournalVerdict* goes = FindVerdict(j, "listener-goes");
  ASSERT_TRUE(goes);
  EXPECT_NE(goes->message.find("expected tcp{host=app1,port=23010} = false within 5s of stop-listener, while it lasts; observed false at +"),
            std::string::npos)
      << goes->message;
  const JournalVerdict* changed = FindVerdict(j, "new-process");
  ASSERT_TRUE(changed);
  EXPECT_NE(changed->expected.find("changed from " + std::to_string(first)), std::string::npos) << changed->expected;

  // The fault window, the actions and the samples tell the story.
  ASSERT_EQ(j.faults.size(), 1u);
  EXPECT_TRUE(j.faults[0].reverted);
  EXPECT_EQ(j.faults[0].hosts, std::vector<std::string>{"app1"});
  ASSERT_TRUE(j.faults[0].revert_ms);
  EXPECT_GT(*j.faults[0].revert_ms, j.faults[0].inject_ms);
  int injects = 0, reverts = 0;
  for (const auto& a : j.actions) {
    EXPECT_TRUE(a.ok) << a.kind << " " << a.error;
    injects += a.kind == "inject";
    reverts += a.kind == "revert";
  }
  EXPECT_EQ(injects, 1);
  EXPECT_EQ(reverts, 1);
  bool saw_down = false, saw_up_after = false;
  for (const auto& s : j.samples) {
    if (s.probe != "tcp{host=app1,port=23010}") continue;
    if (s.value == false && s.t_ms > j.faults[0].inject_ms) saw_down = true;
    if (s.value == true && s.t_ms > *j.faults[0].revert_ms) saw_up_after = true;
  }
  EXPECT_TRUE(saw_down);
  EXPECT_TRUE(saw_up_after);
  EXPECT_TRUE(j.leftovers.empty());
  // And the world is as it was: a listener, a new one.
  EXPECT_TRUE(Accepts(scene.port()));
  EXPECT_NE(scene.ListenerPid(), first);
}

TEST(RunDrill, DefinitelyFailedExpectationRevertsAtOnce) {
  Scene scene(23011);
  scene.StartListener();
  Loaded l;
  // An expectation the fault breaks at its first sample; the fault would last a minute.
  std::string extra =
      "  - name: never-down\n    probe: tcp\n    host: app1\n    port: 23011\n    equals: true\n"
      "    always: true\n    during: stop-listener\n";
  std::string text = scene.DrillText("60s");
  ASSERT_NO_FATAL_FAILURE(Load(scene, "60s", "", &l));
  {
    // Insert the extra expectation into the expect list (before `recover:`).
    size_t at = text.find("recover:");
    text.insert(at, extra);
    l.drill = Drill();
    Status st = ParseDrillText(text, "listener_restart.yaml", &l.drill);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  Journal j;
  Status st = RunDrill(l.drill, l.inventory, RunSettings{}, &j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(j.exit_code, kExitExpectation);
  const JournalVerdict* v = FindVerdict(j, "never-down");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->result, JournalVerdict::Result::kFail);
  ASSERT_EQ(j.faults.size(), 1u);
  ASSERT_TRUE(j.faults[0].revert_ms);
  EXPECT_TRUE(j.faults[0].reverted);
  EXPECT_LT(*j.faults[0].revert_ms - j.faults[0].inject_ms, 60000);  // not held for its minute
  bool noted = false;
  for (const auto& n : j.notes) noted = noted || n.find("expectation never-down failed") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_TRUE(Accepts(scene.port()));
}

TEST(RunDrill, FailedInjectionIsRevertedAndExitsInfra) {
  Scene scene(23012);
  scene.StartListener();
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(Load(scene, "5s", "", &l));
  l.drill.faults[0].params["inject"] = nlohmann::json::array({"sh", "-c", "echo refusing >&2; exit 9"});
  Journal j;
  Status st = RunDrill(l.drill, l.inventory, RunSettings{}, &j);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("injection on app1 failed"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("exited with status 9 (expected 0): refusing"), std::string::npos) << st.message();
  EXPECT_EQ(j.exit_code, kExitInfra);
  bool reverted = false;
  for (const auto& a : j.actions) reverted = reverted || (a.kind == "revert" && a.ok);
  EXPECT_TRUE(reverted);  // a half-applied fault is reverted too
  for (const auto& v : j.verdicts) EXPECT_NE(v.result, JournalVerdict::Result::kPass) << v.id;
  EXPECT_TRUE(Accepts(scene.port()));
}

TEST(RunDrill, SteadyStateMustHoldFirst) {
  Scene scene(23013);  // no listener: steady state cannot hold
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(Load(scene, "5s", "", &l));
  l.drill.preflight_within = Millis(500);
  Journal j;
  Status st = RunDrill(l.drill, l.inventory, RunSettings{}, &j);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("steady state did not hold within 500ms: expected tcp{host=app1,port=23013} = true (observed false)"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(j.exit_code, kExitInfra);
  EXPECT_TRUE(j.actions.empty());  // nothing was touched
}

TEST(RunDrill, ProductionNeedsConfirm) {
  Scene scene(23014);
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(Load(scene, "5s", "", &l));
  l.inventory.groups["all"].vars["faultline_production"] = true;
  for (auto& [name, host] : l.inventory.hosts) host.vars["faultline_production"] = true;
  if (!l.inventory.production()) GTEST_SKIP() << "inventory does not read faultline_production from these vars";
  Journal j;
  Status st = RunDrill(l.drill, l.inventory, RunSettings{}, &j);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("--confirm flb-local"), std::string::npos) << st.message();
  EXPECT_EQ(j.exit_code, kExitInvalid);
}

// A fault driver that only records what the engine asks of it.
class Recorder : public FaultDriver {
 public:
  struct Log {
    std::mutex mu;
    std::vector<std::string> calls;
    std::atomic<int> keepalives{0};
  };
  static Log& log() {
    static Log* l = new Log();
    return *l;
  }
  Status Inject(const FaultInstance& f, Transport& t, InjectOutcome* out) override {
    std::lock_guard<std::mutex> lock(log().mu);
    log().calls.push_back("inject " + f.fault + " " + f.host + " via " + t.Describe() + " tag " + f.Tag());
    out->detail = "recorded";
    return Status::Ok();
  }
  Status Revert(const FaultInstance& f, Transport&, std::string* detail) override {
    std::lock_guard<std::mutex> lock(log().mu);
    log().calls.push_back("revert " + f.fault + " " + f.host);
    *detail = "recorded";
    if (f.params.value("fail_revert", false)) return Status::Unavailable("rule still there");
    return Status::Ok();
  }
  void KeepAlive() override { ++log().keepalives; }
};

// A role probe: app2 is active.
class ActiveIsApp2 : public Probe {
 public:
  Observation Sample(ProbeContext&, std::chrono::milliseconds) override {
    Observation o = Observation::Value("app2");
    o.roles = {{"app1", "standby"}, {"app2", "active"}};
    return o;
  }
};

void RegisterTestKinds() {
  static bool once = [] {
    RegisterEverything();
    FaultCatalogue::Global().Register(
        FaultActionInfo{"test.recorder", "records calls", {{"fail_revert", FaultParam::Kind::kBool, false, "", ""}}, false},
        [] { return std::make_unique<Recorder>(); });
    ProbeRegistry::Global().Register(ProbeInfo{"test.active", "app2", {}, true},
                                     [](const ProbeSpec&, const Inventory&, std::unique_ptr<Probe>* out) {
                                       *out = std::make_unique<ActiveIsApp2>();
                                       return Status::Ok();
                                     });
    return true;
  }();
  (void)once;
}

Inventory TwoLocalHosts() {
  Inventory inv;
  inv.path = "two.ini";
  for (const char* name : {"app1", "app2"}) {
    InventoryHost h;
    h.name = name;
    h.vars["faultline_transport"] = "local";
    h.groups = {"all", "app"};
    inv.hosts[name] = h;
  }
  inv.groups["all"] = InventoryGroup{"all", {"app1", "app2"}, {"app"}, nlohmann::json::object(), {}};
  inv.groups["app"] = InventoryGroup{"app", {"app1", "app2"}, {}, nlohmann::json::object(), {}};
  inv.groups["ungrouped"] = InventoryGroup{"ungrouped", {}, {}, nlohmann::json::object(), {}};
  return inv;
}

Drill RoleDrill(bool fail_revert) {
  Drill d;
  d.name = "role-drill";
  d.file = "role.yaml";
  d.sample_every = Millis(50);
  d.recover_within = Millis(5000);
  SteadyCheck steady;
  steady.probe.name = "test.active";
  steady.predicate.op = Predicate::Op::kPresent;
  d.steady_state.push_back(steady);
  FaultStep f;
  f.name = "hold";
  f.action = "test.recorder";
  f.target.kind = TargetSpec::Kind::kRole;
  f.target.names = {"test.active"};
  f.target.pick = TargetSpec::Pick::kOne;
  f.duration = Millis(2500);
  if (fail_revert) f.params["fail_revert"] = true;
  d.faults.push_back(f);
  Expectation e;
  e.id = "target-is-active";
  e.probe.name = "test.active";
  e.predicate.op = Predicate::Op::kEquals;
  e.predicate.operand = "${target}";
  e.mode = Expectation::Mode::kAlways;
  e.window = Expectation::Window::kDuringFault;
  e.anchor = "hold";
  d.expect.push_back(e);
  return d;
}

TEST(RunDrill, RoleTargetResolvedAtRunTimeAndKeptAlive) {
  RegisterTestKinds();
  Recorder::log().calls.clear();
  Recorder::log().keepalives = 0;
  Inventory inv = TwoLocalHosts();
  Journal j;
  RunSettings settings;
  settings.run_id = "flb-role";
  Status st = RunDrill(RoleDrill(false), inv, settings, &j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(j.exit_code, kExitOk);
  ASSERT_EQ(Recorder::log().calls.size(), 2u);
  EXPECT_EQ(Recorder::log().calls[0], "inject hold app2 via local tag faultline:flb-role:hold");
  EXPECT_EQ(Recorder::log().calls[1], "revert hold app2");
  EXPECT_GE(Recorder::log().keepalives.load(), 1);
  bool resolved = false;
  for (const auto& a : j.actions) {
    if (a.kind == "resolve") resolved = a.detail.find("role test.active = app2 at +") == 0;
  }
  EXPECT_TRUE(resolved);
  bool lane = false;
  for (const auto& r : j.roles) lane = lane || (r.host == "app2" && r.role == "active");
  EXPECT_TRUE(lane);
  ASSERT_EQ(j.faults.size(), 1u);
  EXPECT_EQ(j.faults[0].hosts, std::vector<std::string>{"app2"});
  ASSERT_FALSE(j.verdicts.empty());
  EXPECT_EQ(j.verdicts[0].result, JournalVerdict::Result::kPass) << j.verdicts[0].message;
}

TEST(RunDrill, RevertThatKeepsFailingIsALeftoverAndExit4) {
  RegisterTestKinds();
  Recorder::log().calls.clear();
  Inventory inv = TwoLocalHosts();
  Journal j;
  Status st = RunDrill(RoleDrill(true), inv, RunSettings{}, &j);
  EXPECT_EQ(j.exit_code, kExitLeftover);
  ASSERT_EQ(j.leftovers.size(), 1u);
  EXPECT_EQ(j.leftovers[0], "app2: fault hold (test.recorder) may still be in place: rule still there");
  int reverts = 0;
  for (const auto& c : Recorder::log().calls) reverts += c.rfind("revert", 0) == 0;
  EXPECT_EQ(reverts, 3);  // retried before giving up
  ASSERT_EQ(j.faults.size(), 1u);
  EXPECT_FALSE(j.faults[0].reverted);
}

// The faultline binary next to this test, interrupted while the fault is held.
TEST(FaultlineRun, SigintMidFaultRevertsThenReports) {
  std::string faultline = (fs::path(SelfExe()).parent_path() / "faultline").string();
  ASSERT_TRUE(fs::exists(faultline)) << faultline << " is not built";
  Scene scene(23015);
  scene.StartListener();
  std::string drill = scene.WriteDrill("60s");
  std::string report = scene.dir() + "/report";
  std::string out = scene.dir() + "/out.txt", err = scene.dir() + "/err.txt";
  std::vector<std::string> args = {faultline, "run", drill, "-i", scene.InventoryPath(), "--report", report};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, faultline.c_str(), &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  struct ChildGuard {
    pid_t pid;
    ~ChildGuard() {
      if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } guard{child};

  // Mid-fault: the listener is down.
  ASSERT_TRUE(WaitFor([&] { return !Accepts(scene.port()); }, 20s)) << ReadFile(err);
  ASSERT_EQ(::kill(child, SIGINT), 0);
  int status = 0;
  bool exited = WaitFor([&] { return ::waitpid(child, &status, WNOHANG) == child; }, 30s);
  ASSERT_TRUE(exited) << "faultline did not exit after SIGINT\n" << ReadFile(err);
  guard.pid = 0;
  ASSERT_TRUE(WIFEXITED(status)) << ReadFile(err);
  EXPECT_EQ(WEXITSTATUS(status), kExitInfra) << ReadFile(err);

  // Reverted: the listener is back, started by the revert.
  EXPECT_TRUE(WaitFor([&] { return Accepts(scene.port()); }, 5s)) << ReadFile(err);

  // Reported: the journal says what happened, and JUnit and HTML exist.
  std::string journal_path;
  for (const auto& e : fs::directory_iterator(report)) {
    if (e.path().extension() == ".json") journal_path = e.path().string();
  }
  ASSERT_FALSE(journal_path.empty()) << ReadFile(err);
  Journal j;
  Status st = FromJson(nlohmann::json::parse(ReadFile(journal_path)), &j);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(j.faults.size(), 1u);
  EXPECT_TRUE(j.faults[0].reverted);
  EXPECT_EQ(j.exit_code, kExitInfra);
  bool noted = false;
  for (const auto& n : j.notes) noted = noted || n.find("interrupted by SIGINT") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_TRUE(fs::exists(report + "/junit.xml"));
  EXPECT_TRUE(fs::exists(report + "/report.html"));
  std::string stderr_text = ReadFile(err);
  EXPECT_NE(stderr_text.find("reverted stop-listener"), std::string::npos) << stderr_text;
  // Plain output (not a terminal): timestamped lines.
  EXPECT_NE(stderr_text.find("Z [listener-restart] phase faults"), std::string::npos) << stderr_text;
}

// A command run through the netns transport sees only the namespace's own interfaces.
TEST(NetnsTransport, RunsInsideTheNamespace) {
  std::string ns = "flb-run-" + std::to_string(getpid());
  LocalTransport host("h", "");
  ExecResult r;
  ASSERT_TRUE(host.Exec({{"ip", "netns", "add", ns}}, &r).ok());
  ASSERT_EQ(r.exit_status, 0) << r.stderr_data;
  struct NsGuard {
    std::string ns;
    ~NsGuard() {
      LocalTransport t("h", "");
      ExecResult r;
      t.Exec({{"ip", "netns", "del", ns}}, &r);
    }
  } guard{ns};
  RegisterEverything();
  InventoryHost h;
  h.name = "lab1";
  h.vars["faultline_transport"] = "netns";
  h.vars["faultline_netns"] = ns;
  std::unique_ptr<Transport> t;
  Status st = MakeTransport(h, TransportOptions{}, &t);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(t->Describe(), "netns " + ns);
  ASSERT_TRUE(t->Exec({{"ip", "-o", "link"}}, &r).ok());
  EXPECT_NE(r.stdout_data.find("lo:"), std::string::npos) << r.stdout_data;
  EXPECT_EQ(r.stdout_data.find("eth"), std::string::npos) << r.stdout_data;

  h.vars["faultline_netns"] = "flb-missing-" + std::to_string(getpid());
  st = MakeTransport(h, TransportOptions{}, &t);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("does not exist"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace faultline

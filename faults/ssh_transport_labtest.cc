// The SSH transport against real sshd (openssh-server) processes in network namespaces
// this test creates: a jump host reachable from here, and a target reachable only
// through the jump host. Needs root. Names: namespaces fls-*, subnet 10.203.0.0/25,
// loopback port 23250.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "faults/agent_driver.h"
#include "faults/ssh_transport.h"
#include "orchestrator/inventory.h"

namespace faultline {
namespace {

namespace fs = std::filesystem;

constexpr char kJumpNs[] = "fls-jump";
constexpr char kTargetNs[] = "fls-target";
constexpr char kJumpAddr[] = "10.203.0.2";    // reachable from the test (10.203.0.1/30)
constexpr char kTargetAddr[] = "10.203.0.6";  // only from the jump host (10.203.0.5/30)

int Sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Everything the suite made, removed in the destructor whatever happened before.
struct World {
  std::string dir;
  std::vector<pid_t> sshd_pids;

  ~World() { TearDown(); }

  void TearDown() {
    for (pid_t pid : sshd_pids) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    sshd_pids.clear();
    // Session processes sshd forked for our connections live in our namespaces.
    for (const char* ns : {kJumpNs, kTargetNs}) {
      Sh(std::string("for p in $(ip netns pids ") + ns + " 2>/dev/null); do kill -9 $p; done");
      Sh(std::string("ip netns del ") + ns + " 2>/dev/null");
    }
    Sh("ip link del fls-h0 2>/dev/null");
    if (!dir.empty()) fs::remove_all(dir);
    dir.clear();
  }
};

World* g_world = nullptr;

std::string Dir() { return g_world->dir; }
std::string ClientKey() { return Dir() + "/id_client"; }
std::string WrongKey() { return Dir() + "/id_wrong"; }
std::string KnownHosts() { return Dir() + "/known_hosts"; }
std::string RemoteHome() { return Dir() + "/remote-home"; }

pid_t StartSshd(const std::string& ns, const std::string& addr, const std::string& name) {
  const std::string cfg = Dir() + "/sshd_" + name + ".conf";
  WriteFile(cfg, "ListenAddress " + addr + ":22\n"
                 "HostKey " + Dir() + "/host_key\n"
                 "AuthorizedKeysFile " + Dir() + "/authorized_keys\n"
                 "PidFile none\n"
                 "StrictModes no\n"
                 "UsePAM no\n"
                 // SHLVL keeps the machine's ~/.bashrc out of the commands run; HOME is
                 // where the remote user's agent cache goes.
                 "SetEnv SHLVL=1 HOME=" + RemoteHome() + "\n"
                 "PermitRootLogin prohibit-password\n"
                 "PasswordAuthentication no\n"
                 "KbdInteractiveAuthentication no\n"
                 "AllowTcpForwarding yes\n"
                 "Subsystem sftp internal-sftp\n");
  const std::string log = Dir() + "/sshd_" + name + ".log";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execlp("ip", "ip", "netns", "exec", ns.c_str(), "/usr/sbin/sshd", "-D", "-e", "-f", cfg.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (ReadFile(log).find("Server listening") != std::string::npos) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "sshd in " << ns << " did not start: " << ReadFile(log);
  return pid;
}

class SshTransportLabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(::geteuid(), 0u) << "lab test: needs root";
    g_world = new World();
    char tmpl[] = "/tmp/fls-ssh-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    g_world->dir = tmpl;
    // A leftover of an earlier crashed run would make `ip netns add` fail.
    g_world->TearDown();
    g_world->dir = tmpl;
    fs::create_directories(g_world->dir);
    fs::create_directories("/run/sshd");  // sshd's privilege separation directory
    fs::create_directories(RemoteHome());
    ASSERT_EQ(Sh("ssh-keygen -q -t ed25519 -N '' -f " + Dir() + "/host_key"), 0);
    ASSERT_EQ(Sh("ssh-keygen -q -t ed25519 -N '' -f " + ClientKey()), 0);
    ASSERT_EQ(Sh("ssh-keygen -q -t ed25519 -N '' -f " + WrongKey()), 0);
    ASSERT_EQ(Sh("ssh-keygen -q -t ed25519 -N '' -f " + Dir() + "/other_host_key"), 0);
    fs::copy_file(ClientKey() + ".pub", Dir() + "/authorized_keys");
    std::string host_pub = ReadFile(Dir() + "/host_key.pub");
    host_pub = host_pub.substr(0, host_pub.rfind(' '));  // drop the comment
    WriteFile(KnownHosts(), std::string(kJumpAddr) + " " + host_pub + "\n" + kTargetAddr + " " +
                                host_pub + "\n");

    const std::string net =
        "set -e\n"
        "ip netns add fls-jump\n"
        "ip netns add fls-target\n"
        "ip link add fls-h0 type veth peer name fls-j0 netns fls-jump\n"
        "ip addr add 10.203.0.1/30 dev fls-h0\n"
        "ip link set fls-h0 up\n"
        "ip -n fls-jump addr add 10.203.0.2/30 dev fls-j0\n"
        "ip -n fls-jump link set fls-j0 up\n"
        "ip -n fls-jump link set lo up\n"
        "ip -n fls-jump link add fls-j1 type veth peer name fls-t1 netns fls-target\n"
        "ip -n fls-jump addr add 10.203.0.5/30 dev fls-j1\n"
        "ip -n fls-jump link set fls-j1 up\n"
        "ip -n fls-target addr add 10.203.0.6/30 dev fls-t1\n"
        "ip -n fls-target link set fls-t1 up\n"
        "ip -n fls-target link set lo up\n"
        // The connect-timeout test: SYNs to this port vanish instead of being refused.
        "ip netns exec fls-jump iptables -A INPUT -p tcp --dport 2299 -j DROP\n";
    WriteFile(Dir() + "/net.sh", net);
    ASSERT_EQ(Sh("sh " + Dir() + "/net.sh"), 0);
    g_world->sshd_pids.push_back(StartSshd(kJumpNs, kJumpAddr, "jump"));
    g_world->sshd_pids.push_back(StartSshd(kTargetNs, kTargetAddr, "target"));
  }

  static void TearDownTestSuite() {
    delete g_world;
    g_world = nullptr;
  }

  static SshTarget Target(const std::string& addr = kJumpAddr) {
    SshTarget t;
    t.host_name = "h1";
    t.endpoint.address = addr;
    t.key_file = ClientKey();
    t.known_hosts = KnownHosts();
    t.connect_timeout = std::chrono::milliseconds(5000);
    return t;
  }
};

TEST_F(SshTransportLabTest, ExecPassesAwkwardArgumentsUntouched) {
  SshTransport t(Target());
  std::vector<std::string> args = {"it's", "$HOME", "a;b", "`id`", "\"q\"", "sp ace", "", "*", "x\ny",
                                   "$(touch /tmp/fls-pwned)", "back\\slash"};
  ExecRequest req;
  req.argv = {"printf", "%s|"};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  ExecResult res;
  ASSERT_TRUE(t.Exec(req, &res).ok());
  std::string want;
  for (const auto& a : args) want += a + "|";
  EXPECT_EQ(res.stdout_data, want);
  EXPECT_EQ(res.exit_status, 0);
  EXPECT_FALSE(fs::exists("/tmp/fls-pwned"));
}

TEST_F(SshTransportLabTest, ExitStatusStdinAndStderr) {
  SshTransport t(Target());
  ExecResult res;
  ASSERT_TRUE(t.Exec({{"sh", "-c", "echo oops >&2; exit 7"}}, &res).ok());
  EXPECT_EQ(res.exit_status, 7);
  EXPECT_EQ(res.stderr_data, "oops\n");

  ExecRequest req;
  req.argv = {"wc", "-c"};
  req.stdin_data = std::string(300000, 'z');  // more than one channel window
  ASSERT_TRUE(t.Exec(req, &res).ok());
  EXPECT_EQ(std::stoi(res.stdout_data), 300000);
}

TEST_F(SshTransportLabTest, OneConnectionServesEveryExecAndParallelCallers) {
  SshTransport t(Target());
  ASSERT_TRUE(t.Connect().ok());
  // SSH_CONNECTION names the client's source port: one connection means one port.
  std::set<std::string> seen;
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back("call" + std::to_string(i));
  std::mutex mu;
  std::atomic<int> running{0}, max_running{0};
  Status st = ForEachHost(names, 4, [&](const std::string& name) {
    int now = ++running;
    for (int m = max_running; now > m && !max_running.compare_exchange_weak(m, now);) {}
    ExecResult res;
    Status s = t.Exec({{"sh", "-c", "sleep 0.2; echo \"$SSH_CONNECTION\" " + name}}, &res);
    --running;
    if (!s.ok()) return s;
    if (res.stdout_data.find(name) == std::string::npos) return Status::Internal("wrong output: " + res.stdout_data);
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(res.stdout_data.substr(0, res.stdout_data.find(' ', res.stdout_data.find(' ') + 1)));
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_LE(max_running.load(), 4);
  EXPECT_GE(max_running.load(), 2);
}

TEST_F(SshTransportLabTest, ForEachHostReportsEveryFailure) {
  std::map<std::string, Status> results;
  Status st = ForEachHost({"a", "b", "c"}, 2, [](const std::string& h) {
    return h == "a" ? Status::Ok() : Status::Unavailable("down");
  }, &results);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("b: down"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1 more"), std::string::npos) << st.message();
  EXPECT_TRUE(results["a"].ok());
  EXPECT_FALSE(results["c"].ok());
}

TEST_F(SshTransportLabTest, UploadIsAtomicAndOverwrites) {
  SshTransport t(Target());
  const std::string remote_dir = Dir() + "/remote";
  fs::create_directories(remote_dir);
  std::mt19937 rng(42);
  for (int round = 0; round < 2; ++round) {
    std::string data(200000 + round * 1000, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    WriteFile(Dir() + "/local.bin", data);
    Status st = t.Upload(Dir() + "/local.bin", remote_dir + "/agent", round == 0 ? 0755 : 0700);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(ReadFile(remote_dir + "/agent"), data);
    EXPECT_EQ(fs::status(remote_dir + "/agent").permissions() & fs::perms::all,
              round == 0 ? fs::perms(0755) : fs::perms(0700));
  }
  int entries = 0;
  for (auto& e : fs::directory_iterator(remote_dir)) { (void)e; ++entries; }
  EXPECT_EQ(entries, 1) << "a temporary file was left behind";
  Status st = t.Upload(Dir() + "/no-such-file", remote_dir + "/x", 0644);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  st = t.Upload(Dir() + "/local.bin", Dir() + "/no-such-dir/x", 0644);
  EXPECT_FALSE(st.ok());
}

TEST_F(SshTransportLabTest, UnknownHostKeyRefusedUnlessAccepted) {
  const std::string kh = Dir() + "/known_hosts_empty";
  WriteFile(kh, "");
  SshTarget target = Target();
  target.known_hosts = kh;
  {
    SshTransport t(target);
    Status st = t.Connect();
    EXPECT_EQ(st.code(), Status::Code::kUnavailable);
    EXPECT_NE(st.message().find("is not in " + kh), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("SHA256:"), std::string::npos) << st.message();
  }
  target.accept_new_host_keys = true;
  {
    SshTransport t(target);
    Status st = t.Connect();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  EXPECT_NE(ReadFile(kh).find(kJumpAddr), std::string::npos);
  target.accept_new_host_keys = false;
  SshTransport again(target);
  EXPECT_TRUE(again.Connect().ok()) << "the key just accepted is now known";
}

TEST_F(SshTransportLabTest, ChangedHostKeyRefusedEvenWhenAcceptingNewKeys) {
  const std::string kh = Dir() + "/known_hosts_other";
  std::string other = ReadFile(Dir() + "/other_host_key.pub");
  WriteFile(kh, std::string(kJumpAddr) + " " + other.substr(0, other.rfind(' ')) + "\n");
  SshTarget target = Target();
  target.known_hosts = kh;
  target.accept_new_host_keys = true;
  SshTransport t(target);
  Status st = t.Connect();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("CHANGED"), std::string::npos) << st.message();
}

TEST_F(SshTransportLabTest, WrongClientKeyRefused) {
  SshTarget target = Target();
  target.key_file = WrongKey();
  SshTransport t(target);
  ExecResult res;
  Status st = t.Exec({{"true"}}, &res);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("authentication as root refused"), std::string::npos) << st.message();

  target.key_file = Dir() + "/missing_key";
  SshTransport t2(target);
  st = t2.Connect();
  EXPECT_EQ(st.code(), Status::Code::kInvalid) << st.ToString();
}

TEST_F(SshTransportLabTest, RequestTimeoutKillsTheCommandAndKeepsTheConnection) {
  SshTransport t(Target());
  ExecRequest req;
  req.argv = {"sh", "-c", "echo started; exec sleep 29.5"};
  // Long enough for "started" to arrive even on a loaded machine, far shorter than the sleep.
  req.timeout = std::chrono::milliseconds(3000);
  ExecResult res;
  Status st = t.Exec(req, &res);
  EXPECT_EQ(st.code(), Status::Code::kTimeout) << st.ToString();
  EXPECT_TRUE(res.timed_out);
  EXPECT_EQ(res.stdout_data, "started\n");
  // The remote sleep was signalled, not left running.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Sh("pgrep -f '^sleep 29.5$' >/dev/null") != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone);
  ASSERT_TRUE(t.Exec({{"echo", "still here"}}, &res).ok());
  EXPECT_EQ(res.stdout_data, "still here\n");
}

TEST_F(SshTransportLabTest, ConnectTimeoutOnSilentPortAndSilentServer) {
  SshTarget target = Target();
  target.endpoint.port = 2299;  // SYNs dropped in the jump namespace
  target.connect_timeout = std::chrono::milliseconds(700);
  {
    SshTransport t(target);
    Status st = t.Connect();
    EXPECT_EQ(st.code(), Status::Code::kUnavailable);
    EXPECT_NE(st.message().find("cannot connect to root@10.203.0.2:2299"), std::string::npos) << st.message();
  }
  // A server that accepts TCP and never says a word.
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  struct FdGuard { int fd; ~FdGuard() { ::close(fd); } } guard{lfd};
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(23250);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  target.endpoint.address = "127.0.0.1";
  target.endpoint.port = 23250;
  SshTransport t(target);
  Status st = t.Connect();
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("127.0.0.1:23250"), std::string::npos) << st.message();
}

TEST_F(SshTransportLabTest, JumpHostReachesWhatIsOtherwiseUnreachable) {
  // No direct attempt: this machine has no route into the target namespace except a
  // default route to the outside, where test traffic must not go.
  SshTarget target = Target(kTargetAddr);
  target.jump = SshEndpoint{kJumpAddr, 22, "root"};
  SshTransport t(target);
  ExecResult res;
  Status st = t.Exec({{"sh", "-c", "echo $SSH_CONNECTION"}}, &res);
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The target sees the connection coming from the jump host's inner address.
  EXPECT_EQ(res.stdout_data.substr(0, res.stdout_data.find(' ')), "10.203.0.5");
  EXPECT_NE(t.Describe().find("via root@10.203.0.2:22"), std::string::npos);
  // Several requests, and an upload, through the same tunnel.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t.Exec({{"true"}}, &res).ok());
  WriteFile(Dir() + "/via.txt", "through the jump host\n");
  ASSERT_TRUE(t.Upload(Dir() + "/via.txt", Dir() + "/via-remote.txt", 0600).ok());
  EXPECT_EQ(ReadFile(Dir() + "/via-remote.txt"), "through the jump host\n");
}

TEST_F(SshTransportLabTest, OpenGivesLineIoWithALongLivedProcess) {
  SshTransport t(Target());
  std::unique_ptr<Channel> ch;
  ASSERT_TRUE(t.Open({"sh", "-c", "while read l; do echo \"got:$l\"; done; echo bye >&2"}, &ch).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ch->WriteLine("line " + std::to_string(i) + " {\"json\": true}").ok());
    std::string line;
    Status st = ch->ReadLine(&line, std::chrono::milliseconds(5000));
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(line, "got:line " + std::to_string(i) + " {\"json\": true}");
  }
  std::string line;
  EXPECT_EQ(ch->ReadLine(&line, std::chrono::milliseconds(200)).code(), Status::Code::kTimeout);
  // Exec works on the same connection while the channel is open.
  ExecResult res;
  ASSERT_TRUE(t.Exec({{"echo", "beside"}}, &res).ok());
  EXPECT_EQ(res.stdout_data, "beside\n");
  ch->Close();

  ASSERT_TRUE(t.Open({"sh", "-c", "echo one; echo last words >&2"}, &ch).ok());
  ASSERT_TRUE(ch->ReadLine(&line, std::chrono::milliseconds(5000)).ok());
  EXPECT_EQ(line, "one");
  Status st = ch->ReadLine(&line, std::chrono::milliseconds(5000));
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("last words"), std::string::npos) << st.message();
}

TEST_F(SshTransportLabTest, InventoryHostThroughTheRegisteredKind) {
  RegisterSshTransport();
  InventoryHost host;
  host.name = "target1";
  host.vars = {{"ansible_host", kTargetAddr},
               {"ansible_ssh_private_key_file", ClientKey()},
               {"ansible_ssh_common_args", "-o ProxyJump=root@" + std::string(kJumpAddr) +
                                               ":22 -o UserKnownHostsFile=" + KnownHosts()}};
  std::unique_ptr<Transport> t;
  ASSERT_TRUE(MakeTransport(host, TransportOptions{}, &t).ok());
  ExecResult res;
  Status st = t->Exec({{"echo", "ok"}}, &res);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(res.stdout_data, "ok\n");
}

TEST_F(SshTransportLabTest, SshAgentWhenNoKeyFileIsNamed) {
  // An agent of our own holding the client key; HOME points where no default key exists,
  // so only the agent can have authenticated.
  const std::string sock = Dir() + "/agent.sock";
  pid_t agent = ::fork();
  if (agent == 0) {
    ::execlp("ssh-agent", "ssh-agent", "-D", "-a", sock.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct AgentGuard {
    pid_t pid;
    ~AgentGuard() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } guard{agent};
  for (int i = 0; i < 200 && !fs::exists(sock); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(Sh("SSH_AUTH_SOCK=" + sock + " ssh-add -q " + ClientKey() + " 2>/dev/null"), 0);
  const char* old_sock = std::getenv("SSH_AUTH_SOCK");
  const char* old_home = std::getenv("HOME");
  std::string saved_sock = old_sock ? old_sock : "", saved_home = old_home ? old_home : "";
  ::setenv("SSH_AUTH_SOCK", sock.c_str(), 1);
  ::setenv("HOME", (Dir() + "/nohome").c_str(), 1);
  SshTarget target = Target();
  target.key_file.clear();
  SshTransport t(target);
  ExecResult res;
  Status st = t.Exec({{"echo", "agent"}}, &res);
  if (old_sock) ::setenv("SSH_AUTH_SOCK", saved_sock.c_str(), 1); else ::unsetenv("SSH_AUTH_SOCK");
  if (old_home) ::setenv("HOME", saved_home.c_str(), 1); else ::unsetenv("HOME");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(res.stdout_data, "agent\n");

  // Without the agent, the same target is refused and the message says what was tried.
  ::unsetenv("SSH_AUTH_SOCK");
  ::setenv("HOME", (Dir() + "/nohome").c_str(), 1);
  target.password_env = "FLS_NO_SUCH_PASSWORD";
  SshTransport t2(target);
  st = t2.Connect();
  if (old_sock) ::setenv("SSH_AUTH_SOCK", saved_sock.c_str(), 1);
  if (old_home) ::setenv("HOME", saved_home.c_str(), 1); else ::unsetenv("HOME");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ssh-agent and default keys, password from $FLS_NO_SUCH_PASSWORD (not set)"),
            std::string::npos) << st.message();
}

// The agent over SSH: uploaded once (SFTP) into the SSH user's cache, reused by the next
// session as it is, and replaced when the controller's agent is another build.
TEST_F(SshTransportLabTest, AgentUploadedOnceReusedAndReplacedByAnotherBuild) {
  const std::string built = LocalAgentBinary();
  ASSERT_FALSE(built.empty()) << "no faultline-agent in the build tree";
  const std::string mine = Dir() + "/agent-under-test";
  fs::copy_file(built, mine, fs::copy_options::overwrite_existing);
  fs::permissions(mine, fs::perms(0755));
  const char* old_env = std::getenv("FAULTLINE_AGENT_BINARY");
  const std::string saved = old_env ? old_env : "";
  ::setenv("FAULTLINE_AGENT_BINARY", mine.c_str(), 1);
  struct Restore {
    bool had;
    std::string value;
    ~Restore() {
      if (had) {
        ::setenv("FAULTLINE_AGENT_BINARY", value.c_str(), 1);
      } else {
        ::unsetenv("FAULTLINE_AGENT_BINARY");
      }
    }
  } restore{old_env != nullptr, saved};

  const std::string cache = RemoteHome() + "/.cache/faultline";
  auto cached = [&] {
    std::vector<std::pair<std::string, ino_t>> out;
    if (!fs::exists(cache)) return out;
    for (const auto& e : fs::directory_iterator(cache)) {
      struct stat st {};
      ::stat(e.path().c_str(), &st);
      out.emplace_back(e.path().filename().string(), st.st_ino);
    }
    return out;
  };
  SshTransport t(Target());
  const nlohmann::json vars = {{"faultline_agent_state_dir", Dir() + "/agent-state"}};
  auto start = [&](const std::string& what) {
    std::unique_ptr<AgentSession> session;
    Status st = AgentSession::Start(t, vars, &session);
    EXPECT_TRUE(st.ok()) << what << ": " << st.ToString();
    if (session) {
      EXPECT_EQ(session->hello().value("version", ""), "0.1.0") << what;
    }
  };

  start("first session");
  auto first = cached();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].first.rfind("agent-0.1.0-", 0), 0u) << first[0].first;

  start("second session");
  EXPECT_EQ(cached(), first) << "the agent was uploaded again although the host had it";

  // Another build of the same version (a trailing byte changes the file, not what it does).
  { std::ofstream(mine, std::ios::app | std::ios::binary) << '\n'; }
  start("after a new build");
  auto third = cached();
  ASSERT_EQ(third.size(), 1u) << "the older build was not removed from the cache";
  EXPECT_NE(third[0].first, first[0].first) << "the new build was not uploaded";
}

}  // namespace
}  // namespace faultline

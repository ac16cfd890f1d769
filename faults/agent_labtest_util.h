// Helpers of the agent's lab tests: namespaces on a bridge, code run inside a namespace,
// the agent as a child process, and RAII guards that undo all of it also when a test
// fails. Names: namespaces fla-<pid>-*, subnet 10.202.0.0/24, ports 23100-23199, state
// under /run/faultline-test-fla-*.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline::fla {

inline std::string Sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

inline std::string AgentBinary() {
  if (const char* env = std::getenv("FAULTLINE_AGENT_BINARY")) return env;
  auto dir = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  for (auto c : {dir / "agent" / "faultline-agent", dir / ".." / "faults" / "agent" / "faultline-agent"}) {
    if (std::filesystem::exists(c)) return std::filesystem::canonical(c).string();
  }
  return "";
}

// Runs fn in a forked child inside network namespace `ns`; returns fn's result (0..255),
// or -1 if the child died otherwise.
inline int RunIn(const std::string& ns, const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(250);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A child process killed (by PID) and reaped when the guard goes.
struct Child {
  pid_t pid = -1;
  Child() = default;
  explicit Child(pid_t p) : pid(p) {}
  Child(Child&& o) noexcept : pid(o.pid) { o.pid = -1; }
  Child& operator=(Child&& o) noexcept {
    Stop();
    pid = o.pid;
    o.pid = -1;
    return *this;
  }
  ~Child() { Stop(); }
  void Stop() {
    if (pid > 0) {
      kill(pid, SIGCONT);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
};

// Forks fn inside ns and leaves it running.
inline Child StartIn(const std::string& ns, const std::function<void()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(250);
    fn();
    _exit(0);
  }
  return Child(pid);
}

// Hosts a, b, c (10.202.0.1-3) as namespaces on one bridge that lives in its own
// namespace: nothing is added to the machine's own network namespace.
struct Lab {
  std::string prefix;
  std::vector<std::string> hosts;
  bool ok = false;
  explicit Lab(int n = 3) {
    prefix = "fla-" + std::to_string(getpid() % 100000);
    std::string br = prefix + "-br";
    int rc = 0;
    Sh("ip netns add " + br + " && ip -n " + br + " link add br0 type bridge && ip -n " + br +
           " link set br0 up && ip -n " + br + " link set lo up",
       &rc);
    ok = rc == 0;
    for (int i = 0; i < n && ok; ++i) {
      std::string h = prefix + "-" + std::string(1, static_cast<char>('a' + i));
      std::string port = "p" + std::to_string(i);
      Sh("ip netns add " + h + " && ip -n " + h + " link add eth0 type veth peer name " + port +
             " netns " + br + " && ip -n " + br + " link set " + port + " master br0 up && ip -n " +
             h + " addr add 10.202.0." + std::to_string(i + 1) + "/24 dev eth0 && ip -n " + h +
             " link set eth0 up && ip -n " + h + " link set lo up",
         &rc);
      ok = rc == 0;
      hosts.push_back(h);
      // Touch both tables so before/after snapshots compare like with like.
      Sh("ip netns exec " + h + " iptables -w -L -n >/dev/null; ip netns exec " + h +
         " iptables -w -t mangle -L -n >/dev/null");
    }
  }
  ~Lab() {
    for (const auto& h : hosts) Sh("ip netns del " + h);
    Sh("ip netns del " + prefix + "-br");
  }
  std::string ns(int i) const { return hosts[i]; }
  static std::string addr(int i) { return "10.202.0." + std::to_string(i + 1); }
};

// A state directory under /run, removed at the end.
struct StateDir {
  std::string path;
  explicit StateDir(const std::string& tag) {
    path = "/run/faultline-test-fla-" + std::to_string(getpid()) + "-" + tag;
    std::filesystem::remove_all(path);
  }
  ~StateDir() { std::filesystem::remove_all(path); }
};

// faultline-agent as a child with stdin/stdout pipes, inside a namespace.
class AgentProc {
 public:
  AgentProc(const std::string& ns, const std::string& state_dir) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    std::string bin = AgentBinary();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      execlp("ip", "ip", "netns", "exec", ns.c_str(), bin.c_str(), "--state-dir", state_dir.c_str(),
             static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    ReadLine(&hello_line, 10000);
  }
  ~AgentProc() {
    CloseStdin();
    if (pid_ > 0) {
      for (int i = 0; i < 100; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (from_ >= 0) close(from_);
  }
  void CloseStdin() {
    if (to_ >= 0) close(to_);
    to_ = -1;
  }
  pid_t pid() const { return pid_; }
  nlohmann::json Hello() const {
    try {
      return nlohmann::json::parse(hello_line);
    } catch (...) {
      return nullptr;
    }
  }
  nlohmann::json Call(nlohmann::json req, int timeout_ms = 30000) {
    req["id"] = ++id_;
    std::string line = req.dump() + "\n";
    if (write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return nullptr;
    std::string resp;
    if (!ReadLine(&resp, timeout_ms)) return nullptr;
    try {
      return nlohmann::json::parse(resp);
    } catch (...) {
      return nullptr;
    }
  }
  bool ReadLine(std::string* line, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return false;
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) continue;
      char b[4096];
      ssize_t n = read(from_, b, sizeof b);
      if (n <= 0) return false;
      buf_.append(b, n);
    }
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  long id_ = 0;
  std::string buf_;
  std::string hello_line;
};

// Reverts whatever the state directory lists (a test's last line of defence) when it goes.
struct CleanupOnExit {
  std::string ns, dir;
  ~CleanupOnExit() {
    Sh("ip netns exec " + ns + " " + AgentBinary() + " cleanup --state-dir " + dir + " >/dev/null");
  }
};

// Non-blocking connect with a deadline: 0 connected, 1 refused/unreachable/timed out.
inline int TcpConnect(const std::string& addr, int port, int timeout_ms = 1500) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    return 1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) {
    close(fd);
    return 1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  close(fd);
  return err == 0 ? 0 : 1;
}

// Accepts and echoes on every connection until killed (one process per connection).
inline void TcpEchoServer(int port) {
  signal(SIGCHLD, SIG_IGN);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(fd, 64);
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    if (fork() == 0) {
      // Dies with the server: the guard kills only the server's PID.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char b[256];
      ssize_t n;
      while ((n = read(c, b, sizeof b)) > 0) {
        if (write(c, b, n) != n) break;
      }
      _exit(0);
    }
    close(c);
  }
}

inline void UdpEchoServer(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  char b[512];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) sendto(fd, b, n, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

// Sends `count` numbered UDP probes one after another from inside ns; returns each
// round-trip time in ms, or -1 for a probe with no answer within `wait_ms`.
inline std::vector<double> MeasureRtt(const std::string& ns, const std::string& addr, int port,
                                      int count, int wait_ms = 600) {
  int p[2];
  if (pipe(p) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    int fd0 = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd0 < 0 || setns(fd0, CLONE_NEWNET) != 0) _exit(250);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    std::string out;
    for (int i = 0; i < count; ++i) {
      uint32_t seq = static_cast<uint32_t>(i);
      auto t0 = std::chrono::steady_clock::now();
      send(fd, &seq, sizeof seq, 0);
      double rtt = -1;
      for (;;) {
        int left = wait_ms - static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - t0)
                                                  .count());
        if (left <= 0) break;
        pollfd pf{fd, POLLIN, 0};
        if (poll(&pf, 1, left) != 1) break;
        uint32_t got = 0;
        if (recv(fd, &got, sizeof got, 0) == sizeof got && got == seq) {
          rtt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          break;
        }
      }
      out += std::to_string(rtt) + "\n";
    }
    if (write(p[1], out.data(), out.size()) < 0) _exit(1);
    _exit(0);
  }
  close(p[1]);
  std::string text;
  char b[4096];
  ssize_t n;
  while ((n = read(p[0], b, sizeof b)) > 0) text.append(b, n);
  close(p[0]);
  waitpid(pid, nullptr, 0);
  std::vector<double> rtts;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    rtts.push_back(std::stod(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return rtts;
}

// iptables (filter and mangle, counters aside) and qdiscs of a namespace: what the
// revert guarantee compares.
inline std::string NetSnapshot(const std::string& ns) {
  std::string out;
  for (const char* table : {"filter", "mangle"}) {
    std::string dump = Sh("ip netns exec " + ns + " iptables-save -t " + table);
    for (size_t pos = 0; pos < dump.size();) {
      size_t nl = dump.find('\n', pos);
      std::string line = dump.substr(pos, nl - pos);
      pos = nl == std::string::npos ? dump.size() : nl + 1;
      if (line.empty() || line[0] == '#') continue;
      if (line[0] == ':') line = line.substr(0, line.find(' ', line.find(' ') + 1));
      out += line + "\n";
    }
  }
  out += Sh("ip netns exec " + ns + " tc qdisc show");
  return out;
}

}  // namespace faultline::fla

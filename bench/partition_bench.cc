// Partition fan-out: inject and revert a half/half partition on 8, 16 and 32 hosts over
// SSH, faultline (one SSH connection and one agent per host, parallel requests) against
// plain `ssh` fanned out with `xargs -P` running the same iptables commands, and against
// plain ssh one host after another, in one run. Each host is a network namespace with its
// own sshd; the controller runs in a namespace of its own on the same bridge
// (10.212.0.0/24, namespaces fla-bench-*).
//
//   sudo build/bench/partition_bench [--sizes 8,16,32] [--rounds 3]
//
// Time is from the step's start until every host has applied (or reverted) it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/agent_driver.h"
#include "faults/ssh_transport.h"

namespace fs = std::filesystem;
using faultline::Status;
using nlohmann::json;

namespace {

const char* kPrefix = "fla-bench";

int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  std::string text;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string HostNs(int i) { return std::string(kPrefix) + "-h" + std::to_string(i); }
std::string Addr(int i) { return "10.212.0." + std::to_string(i + 1); }

struct World {
  std::string dir;
  std::vector<pid_t> sshd;
  int hosts = 0;
  ~World() {
    for (pid_t p : sshd) {
      kill(p, SIGTERM);
      waitpid(p, nullptr, 0);
    }
    for (int i = 0; i < hosts; ++i) {
      // Faults the bench left (it should leave none) are reverted before the namespace goes.
      std::string agent = faultline::LocalAgentBinary();
      Sh("ip netns exec " + HostNs(i) + " " + agent + " cleanup --state-dir " + dir + "/state-" +
         std::to_string(i) + " >/dev/null");
      Sh("ip netns del " + HostNs(i));
    }
    Sh(std::string("ip netns del ") + kPrefix + "-br");
    Sh(std::string("ip netns del ") + kPrefix + "-ctl");
    if (!dir.empty()) fs::remove_all(dir);
  }
};

bool Build(World& w, int n) {
  char tmpl[] = "/tmp/fla-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return false;
  w.dir = tmpl;
  std::string br = std::string(kPrefix) + "-br", ctl = std::string(kPrefix) + "-ctl";
  Sh("ip netns del " + ctl + "; ip netns del " + br);
  for (int i = 0; i < 64; ++i) Sh("ip netns del " + HostNs(i) + " 2>/dev/null");
  if (Sh("ip netns add " + br + " && ip -n " + br + " link add br0 type bridge && ip -n " + br +
         " link set br0 up") != 0)
    return false;
  auto attach = [&](const std::string& ns, const std::string& addr, const std::string& port) {
    return Sh("ip netns add " + ns + " && ip -n " + ns + " link add eth0 type veth peer name " + port +
              " netns " + br + " && ip -n " + br + " link set " + port + " master br0 up && ip -n " + ns +
              " addr add " + addr + "/24 dev eth0 && ip -n " + ns + " link set eth0 up && ip -n " + ns +
              " link set lo up") == 0;
  };
  if (!attach(ctl, "10.212.0.254", "pc")) return false;
  fs::create_directories("/run/sshd");
  if (Sh("ssh-keygen -q -t ed25519 -N '' -f " + w.dir + "/host_key") != 0) return false;
  if (Sh("ssh-keygen -q -t ed25519 -N '' -f " + w.dir + "/id") != 0) return false;
  fs::copy_file(w.dir + "/id.pub", w.dir + "/authorized_keys");
  std::string host_pub;
  std::getline(std::ifstream(w.dir + "/host_key.pub"), host_pub);
  host_pub = host_pub.substr(0, host_pub.rfind(' '));
  std::ofstream kh(w.dir + "/known_hosts");
  for (int i = 0; i < n; ++i) {
    w.hosts = i + 1;
    if (!attach(HostNs(i), Addr(i), "p" + std::to_string(i))) return false;
    kh << Addr(i) << " " << host_pub << "\n";
    std::string cfg = w.dir + "/sshd_" + std::to_string(i) + ".conf";
    std::ofstream(cfg) << "ListenAddress " << Addr(i) << ":22\nHostKey " << w.dir
                       << "/host_key\nAuthorizedKeysFile " << w.dir
                       << "/authorized_keys\nPidFile none\nStrictModes no\nUsePAM no\nSetEnv SHLVL=1\n"
                          "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                          "MaxStartups 100:30:200\nMaxSessions 100\n"
                          "Subsystem sftp internal-sftp\n";
    std::string log = w.dir + "/sshd_" + std::to_string(i) + ".log";
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execlp("ip", "ip", "netns", "exec", HostNs(i).c_str(), "/usr/sbin/sshd", "-D", "-e", "-f",
             cfg.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    w.sshd.push_back(pid);
    Sh("ip netns exec " + HostNs(i) + " iptables -w -L -n >/dev/null");
  }
  kh.close();
  for (int i = 0; i < n; ++i) {
    std::string log = w.dir + "/sshd_" + std::to_string(i) + ".log";
    bool up = false;
    for (int t = 0; t < 500 && !up; ++t) {
      std::string text;
      std::getline(std::ifstream(log), text, '\0');
      up = text.find("Server listening") != std::string::npos;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!up) {
      std::fprintf(stderr, "sshd in %s did not start\n", HostNs(i).c_str());
      return false;
    }
  }
  // The controller side of everything below runs in the controller's namespace.
  int fd = open(("/run/netns/" + ctl).c_str(), O_RDONLY | O_CLOEXEC);
  return fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
}

// The peers host i drops: the other half.
std::vector<std::string> Peers(int i, int n) {
  std::vector<std::string> out;
  for (int j = 0; j < n; ++j) {
    if ((j < n / 2) != (i < n / 2)) out.push_back(Addr(j));
  }
  return out;
}

double Ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int CountRules(int i, const std::string& mark) {
  std::string out;
  Sh("ip netns exec " + HostNs(i) + " iptables-save -t filter | grep -c -- '" + mark + "'", &out);
  return std::atoi(out.c_str());
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Plain ssh: one line per host, "root@ADDR iptables ... ; iptables ...", fed to xargs.
double PlainSsh(const World& w, int n, int parallel, const char* op) {
  std::string file = w.dir + "/plain-" + op + ".txt";
  std::ofstream lines(file);
  for (int i = 0; i < n; ++i) {
    lines << "root@" << Addr(i);
    bool first = true;
    for (const auto& p : Peers(i, n)) {
      for (auto [chain, flag] : {std::pair{"INPUT", "-s"}, std::pair{"OUTPUT", "-d"}}) {
        lines << (first ? " " : " \\; ") << "iptables -w " << op << " " << chain << " " << flag << " " << p
              << " -m comment --comment plainbench -j DROP";
        first = false;
      }
    }
    lines << "\n";
  }
  lines.close();
  std::string cmd = "xargs -P " + std::to_string(parallel) + " -L 1 ssh -i " + w.dir +
                    "/id -o UserKnownHostsFile=" + w.dir +
                    "/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR "
                    "-o ControlMaster=no < " +
                    file;
  auto t0 = std::chrono::steady_clock::now();
  std::string out;
  int rc = Sh(cmd, &out);
  double ms = Ms(t0);
  if (rc != 0) std::fprintf(stderr, "plain ssh %s failed: %s\n", op, out.c_str());
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {8, 16, 32};
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sizes") {
      sizes.clear();
      std::stringstream in(argv[i + 1]);
      std::string s;
      while (std::getline(in, s, ',')) sizes.push_back(std::atoi(s.c_str()));
    } else if (a == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "partition_bench: needs root (namespaces, sshd, iptables)\n");
    return 2;
  }
  std::string agent = faultline::LocalAgentBinary();
  if (agent.empty()) {
    std::fprintf(stderr, "partition_bench: no faultline-agent found (set FAULTLINE_AGENT_BINARY)\n");
    return 2;
  }
  int max_n = *std::max_element(sizes.begin(), sizes.end());
  World w;
  if (!Build(w, max_n)) {
    std::fprintf(stderr, "partition_bench: could not build %d hosts\n", max_n);
    return 3;
  }

  // faultline's side: one SSH connection and one agent per host for the whole run, as
  // the engine keeps them; made before the clock starts, as at the start of a run.
  std::vector<std::unique_ptr<faultline::SshTransport>> transports(max_n);
  std::vector<std::unique_ptr<faultline::AgentSession>> agents(max_n);
  std::atomic<int> failed{0};
  {
    // Eight handshakes at a time: set-up is not what is measured, and 32 at once on a
    // small machine only make sshd's key exchanges queue.
    std::vector<std::thread> ts;
    std::atomic<int> next{0};
    for (int k = 0; k < 8; ++k) {
      ts.emplace_back([&] {
       for (int i = next++; i < max_n; i = next++) {
        faultline::SshTarget t;
        t.host_name = "h" + std::to_string(i);
        t.endpoint = {Addr(i), 22, "root"};
        t.key_file = w.dir + "/id";
        t.known_hosts = w.dir + "/known_hosts";
        transports[i] = std::make_unique<faultline::SshTransport>(t);
        json vars = {{"faultline_agent_path", agent},
                     {"faultline_agent_state_dir", w.dir + "/state-" + std::to_string(i)}};
        Status st = faultline::AgentSession::Start(*transports[i], vars, &agents[i]);
        if (!st.ok()) {
          std::fprintf(stderr, "h%d: %s\n", i, st.ToString().c_str());
          ++failed;
        }
       }
      });
    }
    for (auto& t : ts) t.join();
  }
  if (failed) return 3;

  auto faultline_step = [&](int n, const std::string& op, int round) {
    std::atomic<int> errors{0};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i) {
      ts.emplace_back([&, i] {
        json req = {{"op", op}, {"run", "bench" + std::to_string(round)}, {"fault", "halves"}};
        if (op == "inject") {
          req["action"] = "network.partition";
          req["params"] = {{"peers", Peers(i, n)}};
          req["lease_ms"] = 60000;
        }
        json resp;
        Status st = agents[i]->Call(req, &resp);
        if (!st.ok()) {
          std::fprintf(stderr, "h%d %s: %s\n", i, op.c_str(), st.ToString().c_str());
          ++errors;
        }
      });
    }
    for (auto& t : ts) t.join();
    double ms = Ms(t0);
    return errors ? -1.0 : ms;
  };

  std::printf("partition of N hosts into halves over SSH; median of %d rounds, ms from step start "
              "until every host has applied it\n\n",
              rounds);
  std::printf("%4s %6s | %10s %10s | %10s %10s | %10s %10s | %8s %8s\n", "N", "rules", "fl inject",
              "fl revert", "xargs inj", "xargs rev", "seq inj", "seq rev", "fl/xargs", "fl/seq");
  bool ok = true;
  for (int n : sizes) {
    std::vector<double> fi, fr, xi, xr, si, sr;
    int rules_per_host = static_cast<int>(Peers(0, n).size()) * 2;
    for (int r = 0; r < rounds; ++r) {
      fi.push_back(faultline_step(n, "inject", r));
      if (CountRules(0, "faultline:bench" + std::to_string(r) + ":halves") != rules_per_host ||
          CountRules(n - 1, "faultline:bench" + std::to_string(r) + ":halves") != rules_per_host) {
        std::fprintf(stderr, "faultline inject did not leave %d rules\n", rules_per_host);
        ok = false;
      }
      fr.push_back(faultline_step(n, "revert", r));
      xi.push_back(PlainSsh(w, n, n, "-A"));
      if (CountRules(n - 1, "plainbench") != rules_per_host) {
        std::fprintf(stderr, "plain ssh inject did not leave %d rules\n", rules_per_host);
        ok = false;
      }
      xr.push_back(PlainSsh(w, n, n, "-D"));
    }
    // One host after another: one round (it is the slow reference).
    si.push_back(PlainSsh(w, n, 1, "-A"));
    sr.push_back(PlainSsh(w, n, 1, "-D"));
    for (int i = 0; i < n; ++i) {
      if (CountRules(i, "plainbench") != 0 || CountRules(i, "faultline:") != 0) {
        std::fprintf(stderr, "h%d: rules left after revert\n", i);
        ok = false;
      }
    }
    if (std::find(fi.begin(), fi.end(), -1.0) != fi.end() || std::find(fr.begin(), fr.end(), -1.0) != fr.end()) {
      ok = false;
    }
    double f = Median(fi) + Median(fr), x = Median(xi) + Median(xr), s = si[0] + sr[0];
    std::printf("%4d %6d | %10.1f %10.1f | %10.1f %10.1f | %10.1f %10.1f | %8.2f %8.3f\n", n,
                rules_per_host, Median(fi), Median(fr), Median(xi), Median(xr), si[0], sr[0], f / x, f / s);
    std::fflush(stdout);
  }
  std::printf("\nratios: faultline (inject + revert) / the other; below 1 is faster\n");
  agents.clear();
  transports.clear();
  return ok ? 0 : 1;
}

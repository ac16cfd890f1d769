#include "lab/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lab/sys.h"

extern char** environ;

namespace faultline::lab {

namespace {

std::string Now() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

void Say(const std::string& line) {
  std::string s = Now() + " faultline-supervisor: " + line + "\n";
  (void)!::write(1, s.data(), s.size());
}

std::string DescribeWait(int wstatus) {
  if (WIFEXITED(wstatus)) return "exited with status " + std::to_string(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return std::string("killed by signal ") + std::to_string(WTERMSIG(wstatus)) +
                                   " (" + strsignal(WTERMSIG(wstatus)) + ")";
  return "ended";
}

struct Running {
  SupervisedService spec;
  pid_t pid = 0;
  std::string since;
  std::string last;  // how it last ended
};

class Supervisor {
 public:
  explicit Supervisor(const SupervisorConfig& config) : config_(config) {
    for (const auto& s : config.services) services_[s.name].spec = s;
  }

  std::string Handle(const std::string& line) {
    std::istringstream in(line);
    std::string verb, name;
    in >> verb >> name;
    if (verb == "list") {
      std::string out = "ok";
      for (auto& [n, r] : services_) out += " " + n + "=" + (r.pid ? "running:" + std::to_string(r.pid) : "stopped");
      return out;
    }
    auto it = services_.find(name);
    if (it == services_.end()) {
      std::string known;
      for (auto& [n, r] : services_) known += (known.empty() ? "" : ", ") + n;
      return "error unknown service '" + name + "' on " + config_.host + " (known: " + known + ")";
    }
    Running& r = it->second;
    if (verb == "start") return Start(r);
    if (verb == "stop") return Stop(r);
    if (verb == "restart") {
      std::string s = Stop(r);
      if (s.rfind("error", 0) == 0) return s;
      return Start(r);
    }
    if (verb == "status") {
      if (r.pid) return "running " + r.spec.name + " pid " + std::to_string(r.pid) + " since " + r.since;
      return "stopped " + r.spec.name + (r.last.empty() ? "" : " (" + r.last + ")");
    }
    return "error unknown request '" + verb + "' (start|stop|restart|status NAME, list)";
  }

  std::string Start(Running& r) {
    if (r.pid) return "ok " + r.spec.name + " already running, pid " + std::to_string(r.pid);
    std::vector<std::string> argv = r.spec.argv;
    if (argv.empty()) return "error " + r.spec.name + " has no command";
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      if (!r.spec.env.count(kv.substr(0, kv.find('=')))) env.push_back(kv);
    }
    for (const auto& [k, v] : r.spec.env) env.push_back(k + "=" + v);
    std::vector<char*> cenv;
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const std::string log = config_.log_dir + "/" + r.spec.name + ".log";
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return "error cannot open " + log + ": " + std::strerror(errno);
    int exec_pipe[2];
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
      ::close(log_fd);
      return std::string("error pipe: ") + std::strerror(errno);
    }
    const char* cwd = r.spec.cwd.c_str();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();  // its own process group: stop ends it and everything it started
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::dup2(exec_pipe[1], 3);
      ::fcntl(3, F_SETFD, FD_CLOEXEC);
      ::syscall(SYS_close_range, 4, ~0U, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      int e = 0;
      if (::chdir(cwd) == 0) {
        ::execve(cargv[0], cargv.data(), cenv.data());
      }
      e = errno;
      (void)!::write(3, &e, sizeof e);
      ::_exit(127);
    }
    ::close(exec_pipe[1]);
    ::close(log_fd);
    if (pid < 0) {
      ::close(exec_pipe[0]);
      return std::string("error fork: ") + std::strerror(errno);
    }
    int err = 0;
    ssize_t n = ::read(exec_pipe[0], &err, sizeof err);
    ::close(exec_pipe[0]);
    if (n == sizeof err) {
      ::waitpid(pid, nullptr, 0);
      r.last = std::string("could not start: ") + std::strerror(err);
      Say(r.spec.name + ": cannot start " + r.spec.argv[0] + ": " + std::strerror(err));
      return "error cannot start " + r.spec.name + " (" + r.spec.argv[0] + "): " + std::strerror(err);
    }
    r.pid = pid;
    r.since = Now();
    WriteFileAtomic(config_.run_dir + "/" + r.spec.name + ".pid", std::to_string(pid) + "\n");
    Say(r.spec.name + " started, pid " + std::to_string(pid));
    return "ok started " + r.spec.name + " pid " + std::to_string(pid);
  }

  std::string Stop(Running& r) {
    if (!r.pid) return "ok " + r.spec.name + " already stopped";
    pid_t pid = r.pid;
    ::kill(-pid, SIGTERM);
    ::kill(-pid, SIGCONT);  // a paused service must be able to act on SIGTERM
    int wstatus = 0;
    bool reaped = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(r.spec.stop_timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) { reaped = true; break; }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!reaped) {
      Say(r.spec.name + " (pid " + std::to_string(pid) + ") ignored SIGTERM for " +
          std::to_string(r.spec.stop_timeout_ms) + " ms: SIGKILL");
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {}
    }
    ::kill(-pid, SIGKILL);  // whatever it started and left behind in its group
    Exited(r, wstatus, "stopped");
    return "ok stopped " + r.spec.name + " (pid " + std::to_string(pid) + ")";
  }

  void Exited(Running& r, int wstatus, const std::string& how) {
    r.last = how + ": " + DescribeWait(wstatus) + " at " + Now();
    Say(r.spec.name + " (pid " + std::to_string(r.pid) + ") " + r.last);
    // The service's own log says so too, as an operator reading only it would expect.
    std::string line = Now() + " faultline-supervisor: " + r.spec.name + " " + r.last + "\n";
    int fd = ::open((config_.log_dir + "/" + r.spec.name + ".log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
    ::unlink((config_.run_dir + "/" + r.spec.name + ".pid").c_str());
    r.pid = 0;
  }

  void Reap() {
    int wstatus;
    pid_t pid;
    while ((pid = ::waitpid(-1, &wstatus, WNOHANG)) > 0) {
      for (auto& [n, r] : services_) {
        if (r.pid == pid) {
          ::kill(-pid, SIGKILL);
          Exited(r, wstatus, "died");
        }
      }
    }
  }

  void StopAll() {
    for (auto& [n, r] : services_) {
      if (r.pid) {
        r.spec.stop_timeout_ms = std::min(r.spec.stop_timeout_ms, 5000);
        Stop(r);
      }
    }
  }

  std::map<std::string, Running>& services() { return services_; }

 private:
  const SupervisorConfig& config_;
  std::map<std::string, Running> services_;
};

}  // namespace

Status SaveSupervisorConfig(const std::string& path, const SupervisorConfig& c) {
  nlohmann::json j;
  j["host"] = c.host;
  j["socket"] = c.socket;
  j["run_dir"] = c.run_dir;
  j["log_dir"] = c.log_dir;
  j["services"] = nlohmann::json::array();
  for (const auto& s : c.services) {
    j["services"].push_back({{"name", s.name}, {"argv", s.argv}, {"env", s.env}, {"cwd", s.cwd},
                             {"autostart", s.autostart}, {"stop_timeout_ms", s.stop_timeout_ms}});
  }
  return WriteFileAtomic(path, j.dump(2) + "\n");
}

Status LoadSupervisorConfig(const std::string& path, SupervisorConfig* c) {
  std::string text = ReadFileOr(path, "\x01");
  if (text == "\x01") return Status::NotFound("cannot read supervisor config " + path);
  try {
    auto j = nlohmann::json::parse(text);
    c->host = j.at("host").get<std::string>();
    c->socket = j.at("socket").get<std::string>();
    c->run_dir = j.at("run_dir").get<std::string>();
    c->log_dir = j.at("log_dir").get<std::string>();
    c->services.clear();
    for (const auto& s : j.at("services")) {
      SupervisedService svc;
      svc.name = s.at("name").get<std::string>();
      svc.argv = s.at("argv").get<std::vector<std::string>>();
      svc.env = s.value("env", std::map<std::string, std::string>{});
      svc.cwd = s.value("cwd", std::string("/"));
      svc.autostart = s.value("autostart", true);
      svc.stop_timeout_ms = s.value("stop_timeout_ms", 10000);
      c->services.push_back(std::move(svc));
    }
  } catch (const std::exception& e) {
    return Status::Invalid(path + ": " + e.what());
  }
  return Status::Ok();
}

int RunSupervisor(const SupervisorConfig& config) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);

  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (config.socket.size() >= sizeof addr.sun_path) {
    Say("socket path too long: " + config.socket);
    return 2;
  }
  std::strcpy(addr.sun_path, config.socket.c_str());
  ::unlink(config.socket.c_str());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 16) != 0) {
    Say("cannot listen on " + config.socket + ": " + std::strerror(errno));
    return 1;
  }
  Supervisor sup(config);
  Say("supervising " + std::to_string(config.services.size()) + " service(s) on " + config.host);
  for (auto& [name, r] : sup.services()) {
    if (r.spec.autostart) sup.Start(r);
  }
  for (;;) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      if (::read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          sup.Reap();
        } else {
          Say(std::string("signal ") + strsignal(static_cast<int>(si.ssi_signo)) + ": stopping every service");
          sup.StopAll();
          ::unlink(config.socket.c_str());
          return 0;
        }
      }
    }
    if (fds[1].revents & POLLIN) {
      int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string line;
      char c;
      while (line.size() < 1024 && ::read(cfd, &c, 1) == 1 && c != '\n') line += c;
      sup.Reap();  // a child that died since the last wake-up counts before we answer
      std::string reply = sup.Handle(line) + "\n";
      (void)!::write(cfd, reply.data(), reply.size());
      ::close(cfd);
    }
  }
  return 1;
}

Status SupervisorRequest(const std::string& socket, const std::string& request, std::string* reply,
                         std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof addr.sun_path) return Status::Invalid("socket path too long: " + socket);
  std::strcpy(addr.sun_path, socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    return Status::Unavailable("supervisor at " + socket + " is not answering: " + std::strerror(e));
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string line = request + "\n";
  (void)!::write(fd, line.data(), line.size());
  reply->clear();
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) reply->append(buf, static_cast<size_t>(n));
  int e = errno;
  ::close(fd);
  if (n < 0) return Status::Timeout("supervisor at " + socket + ": no reply to '" + request + "': " + std::strerror(e));
  while (!reply->empty() && reply->back() == '\n') reply->pop_back();
  return Status::Ok();
}

int ReplyExitCode(const std::string& reply) {
  if (reply.rfind("ok", 0) == 0 || reply.rfind("running", 0) == 0) return 0;
  if (reply.rfind("stopped", 0) == 0) return 3;
  return 1;
}

}  // namespace faultline::lab

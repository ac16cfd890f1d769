#include "lab/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/shell.h"

extern char** environ;

namespace faultline::lab {

namespace {

std::vector<char*> CArgv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

void CloseFrom(int first) {
  // Nothing of the caller's (sockets, the lock file, test harness pipes) may leak into
  // a daemon that lives on after it.
  ::syscall(SYS_close_range, first, ~0U, 0);
}

}  // namespace

Status Run(const std::vector<std::string>& argv_in, RunResult* result) {
  *result = RunResult();
  if (argv_in.empty()) return Status::Invalid("empty command");
  std::vector<std::string> argv = argv_in;
  std::vector<char*> cargv = CArgv(argv);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    CloseFrom(3);
    ::execvp(cargv[0], cargv.data());
    std::string msg = std::string("cannot run ") + cargv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result->out : result->err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {}
  result->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  if (result->status == 127 && result->err.find("cannot run") == 0) {
    return Status::Unavailable(result->err.substr(0, result->err.size() - 1));
  }
  return Status::Ok();
}

Status RunOk(const std::vector<std::string>& argv, std::string* out) {
  RunResult r;
  FAULTLINE_RETURN_IF_ERROR(Run(argv, &r));
  if (r.status != 0) {
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Status::Unavailable("`" + ShellJoin(argv) + "` failed (exit " + std::to_string(r.status) +
                               ")" + (err.empty() ? "" : ": " + err));
  }
  if (out) *out = r.out;
  return Status::Ok();
}

Status SpawnDaemon(const DaemonSpec& spec, pid_t* pid_out) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return Status::Invalid("daemon program must be an absolute path");
  }
  // Everything the children need is prepared here: after fork only async-signal-safe calls.
  std::vector<std::string> argv = spec.argv;
  std::vector<char*> cargv = CArgv(argv);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (spec.env.count(kv.substr(0, kv.find('=')))) continue;
    env_store.push_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_store.push_back(k + "=" + v);
  std::vector<char*> cenv = CArgv(env_store);
  int ns_fd = -1;
  if (!spec.netns.empty()) {
    ns_fd = ::open(("/run/netns/" + spec.netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) return Status::NotFound("network namespace " + spec.netns + ": " + std::strerror(errno));
  }
  int log_fd = ::open(spec.log_file.empty() ? "/dev/null" : spec.log_file.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    if (ns_fd >= 0) ::close(ns_fd);
    return Status::Unavailable("cannot open log " + spec.log_file + ": " + std::strerror(errno));
  }
  int pid_pipe[2];   // the middle child reports the daemon's PID
  int exec_pipe[2];  // closed by a successful exec, else carries errno
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0 || ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  }
  const char* cwd = spec.cwd.c_str();
  pid_t middle = ::fork();
  if (middle < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (middle == 0) {
    if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) != 0) {
      int e = errno;
      (void)!::write(exec_pipe[1], &e, sizeof e);
      ::_exit(1);
    }
    ::setsid();
    pid_t daemon = ::fork();
    if (daemon == 0) {
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      // exec_pipe[1] stays open until exec (it is CLOEXEC); everything else goes.
      if (exec_pipe[1] != 3) {
        ::dup2(exec_pipe[1], 3);
        ::fcntl(3, F_SETFD, FD_CLOEXEC);
      }
      CloseFrom(4);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (::chdir(cwd) != 0) {
        int e = errno;
        (void)!::write(3, &e, sizeof e);
        ::_exit(1);
      }
      ::execve(cargv[0], cargv.data(), cenv.data());
      int e = errno;
      (void)!::write(3, &e, sizeof e);
      ::_exit(127);
    }
    (void)!::write(pid_pipe[1], &daemon, sizeof daemon);
    ::_exit(0);
  }
  ::close(pid_pipe[1]);
  ::close(exec_pipe[1]);
  ::close(log_fd);
  if (ns_fd >= 0) ::close(ns_fd);
  pid_t daemon = -1;
  ssize_t n = ::read(pid_pipe[0], &daemon, sizeof daemon);
  ::close(pid_pipe[0]);
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {}
  int err = 0;
  ssize_t e = ::read(exec_pipe[0], &err, sizeof err);
  ::close(exec_pipe[0]);
  if (e == sizeof err) {
    return Status::Unavailable("cannot start " + spec.argv[0] + (spec.netns.empty() ? "" : " in " + spec.netns) +
                               ": " + std::strerror(err));
  }
  if (n != sizeof daemon || daemon <= 0) return Status::Internal("cannot start " + spec.argv[0]);
  *pid_out = daemon;
  return Status::Ok();
}

unsigned long long ProcessStartTime(pid_t pid) {
  std::string stat = ReadFileOr("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  // Fields after the command: state(3) ... starttime(22).
  for (int i = 3; i <= 22 && (in >> field); ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool ProcessAlive(pid_t pid, unsigned long long start_time) {
  if (pid <= 0) return false;
  std::string stat = ReadFileOr("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  if (stat[close + 2] == 'Z' || stat[close + 2] == 'X') return false;
  return start_time == 0 || ProcessStartTime(pid) == start_time;
}

void EndProcess(pid_t pid, unsigned long long start_time, std::chrono::milliseconds grace) {
  if (!ProcessAlive(pid, start_time)) return;
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGCONT);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    ::waitpid(pid, nullptr, WNOHANG);  // in case it is our child
    if (!ProcessAlive(pid, start_time)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!ProcessAlive(pid, start_time)) return;
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 250 && ProcessAlive(pid, start_time); ++i) {
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<pid_t> NetnsPids(const std::string& netns) {
  std::vector<pid_t> out;
  RunResult r;
  if (!Run({"ip", "netns", "pids", netns}, &r).ok() || r.status != 0) return out;
  std::istringstream in(r.out);
  long pid;
  while (in >> pid) if (pid > 1 && pid != ::getpid()) out.push_back(static_cast<pid_t>(pid));
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& data, int mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(w);
  }
  ::fchmod(fd, static_cast<mode_t>(mode));
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fallback;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string SelfDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : p.parent_path().string();
}

std::string FindProgram(const std::string& name, const std::string& env_override) {
  if (!env_override.empty()) {
    const char* v = std::getenv(env_override.c_str());
    if (v && *v) return PathExists(v) ? std::string(v) : std::string();
  }
  namespace fs = std::filesystem;
  const fs::path self = SelfDir();
  std::vector<fs::path> dirs = {self, self.parent_path() / "lab", self.parent_path() / "coord",
                                self.parent_path() / "services"};
  std::error_code ec;
  // services/ may keep each program in a folder of its own.
  for (auto it = fs::directory_iterator(self.parent_path() / "services", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_directory()) dirs.push_back(it->path());
  }
  for (const auto& d : dirs) {
    fs::path p = d / name;
    if (::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p)) return p.string();
  }
  const char* path = std::getenv("PATH");
  std::istringstream in(path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(in, dir, ':')) {
    fs::path p = fs::path(dir) / name;
    if (!dir.empty() && ::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

}  // namespace faultline::lab

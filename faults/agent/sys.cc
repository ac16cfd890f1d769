#include "faults/agent/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/shell.h"

namespace faultline::agent {

namespace {

void CloseFrom(int lowest) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  std::vector<int> fds;
  while (dirent* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd >= lowest && fd != dirfd(d)) fds.push_back(fd);
  }
  closedir(d);
  for (int fd : fds) close(fd);
}

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

std::string ReadCmdline(pid_t pid) {
  std::string raw;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/cmdline", &raw).ok()) return "";
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  return raw;
}

std::vector<std::string> ReadArgv(pid_t pid) {
  std::string raw;
  std::vector<std::string> out;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/cmdline", &raw).ok()) return out;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

pid_t ParentOf(pid_t pid) {
  std::string stat;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat).ok()) return 0;
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(close_paren + 2));
  std::string state;
  pid_t ppid = 0;
  in >> state >> ppid;
  return ppid;
}

// The agent itself, its ancestors (the sshd session and shell that started it, whose
// command lines may contain the very pattern a drill names) and its own helpers.
std::set<pid_t> Untouchable() {
  std::set<pid_t> out;
  for (pid_t p = getpid(); p > 1 && out.insert(p).second; p = ParentOf(p)) {
  }
  out.insert(1);
  std::string self = SelfExe();
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    char buf[4096];
    ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, n) == self) out.insert(pid);
  }
  closedir(d);
  return out;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid > 0) out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool FileContains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

bool OnPath(const std::string& prog) {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::istringstream in(p);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

Status RunCommand(const std::vector<std::string>& argv, CommandResult* result,
                  std::chrono::milliseconds timeout, const std::string* input) {
  if (argv.empty()) return Status::Invalid("empty command");
  int in_pipe[2] = {-1, -1};
  if (input && pipe2(in_pipe, O_CLOEXEC) != 0) return Status::Unavailable(std::strerror(errno));
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Unavailable(std::strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Status::Unavailable(std::strerror(errno));
  }
  auto cargv = CArgv(argv);
  pid_t pid = fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(input ? in_pipe[0] : devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    signal(SIGPIPE, SIG_DFL);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "cannot run %s: %s", cargv[0], std::strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (input) {
    // Rule batches are a few KiB, well inside a pipe's buffer: written before reading.
    close(in_pipe[0]);
    size_t done = 0;
    while (done < input->size()) {
      ssize_t n = write(in_pipe[1], input->data() + done, input->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += n;
    }
    close(in_pipe[1]);
  }
  result->out.clear();
  result->err.clear();
  long long deadline = MonotonicMs() + timeout.count();
  bool open_out = true, open_err = true, timed_out = false;
  while (open_out || open_err) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    long long left = deadline - MonotonicMs();
    if (left <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (!fds[i].revents) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        (i == 0 ? open_out : open_err) = false;
        fds[i].fd = -1;
      } else {
        (i == 0 ? result->out : result->err).append(buf, got);
      }
    }
    if (!open_out) fds[0].fd = -1;
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result->exit_status = WIFEXITED(status) && !timed_out ? WEXITSTATUS(status) : -1;
  if (timed_out) {
    return Status::Timeout(ShellJoin(argv) + ": no exit after " +
                           std::to_string(timeout.count()) + " ms");
  }
  if (result->exit_status == 127 && result->err.rfind("cannot run", 0) == 0) {
    return Status::Unavailable(result->err);
  }
  return Status::Ok();
}

Status RunChecked(const std::vector<std::string>& argv, std::string* out) {
  CommandResult r;
  FAULTLINE_RETURN_IF_ERROR(RunCommand(argv, &r));
  if (r.exit_status != 0) {
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Status::Unavailable(ShellJoin(argv) + " exited with " +
                               std::to_string(r.exit_status) + (err.empty() ? "" : ": " + err));
  }
  if (out) *out = r.out;
  return Status::Ok();
}

std::optional<unsigned long long> ProcessStartTime(pid_t pid) {
  std::string stat;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat).ok()) return std::nullopt;
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close_paren + 2));
  std::string field;
  // Fields after the command: state is field 3; starttime is field 22.
  for (int i = 3; i < 22; ++i) in >> field;
  unsigned long long start = 0;
  in >> start;
  return start;
}

char ProcessState(pid_t pid) {
  std::string stat;
  if (!ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat).ok()) return '\0';
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= stat.size()) return '\0';
  return stat[close_paren + 2];
}

bool SameProcess(const ProcessId& id) {
  auto start = ProcessStartTime(id.pid);
  return start && *start == id.start_time;
}

Status FindByPattern(const std::string& pattern, std::vector<ProcessId>* out) {
  regex_t re;
  int rc = regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof msg);
    return Status::Invalid("process pattern '" + pattern + "' is not a valid regex: " + msg);
  }
  auto skip = Untouchable();
  for (pid_t pid : AllPids()) {
    if (skip.count(pid)) continue;
    std::string cmd = ReadCmdline(pid);
    if (cmd.empty()) continue;  // kernel threads and zombies
    if (regexec(&re, cmd.c_str(), 0, nullptr, 0) == 0) {
      auto start = ProcessStartTime(pid);
      if (start) out->push_back({pid, *start, cmd});
    }
  }
  regfree(&re);
  return Status::Ok();
}

Status FindByJavaClass(const std::string& main_class, std::vector<ProcessId>* out) {
  auto skip = Untouchable();
  for (pid_t pid : AllPids()) {
    if (skip.count(pid)) continue;
    auto argv = ReadArgv(pid);
    if (argv.empty()) continue;
    std::string prog = argv[0].substr(argv[0].rfind('/') + 1);
    if (prog != "java") continue;
    // The main class is the first argument that is neither an option nor the value of
    // an option that takes one (-cp, -classpath, --class-path, -jar ends the search).
    for (size_t i = 1; i < argv.size(); ++i) {
      const std::string& a = argv[i];
      if (a == "-cp" || a == "-classpath" || a == "--class-path" || a == "--module-path" ||
          a == "-p" || a == "--add-opens" || a == "--add-exports") {
        ++i;
        continue;
      }
      if (a == "-jar") break;
      if (!a.empty() && a[0] == '-') continue;
      if (a == main_class) {
        auto start = ProcessStartTime(pid);
        if (start) out->push_back({pid, *start, ReadCmdline(pid)});
      }
      break;
    }
  }
  return Status::Ok();
}

Status FindByPidfile(const std::string& path, std::vector<ProcessId>* out) {
  std::string text;
  Status st = ReadFile(path, &text);
  if (!st.ok()) return Status::NotFound("pidfile " + path + ": " + st.message());
  char* end = nullptr;
  long pid = std::strtol(text.c_str(), &end, 10);
  if (pid <= 1 || end == text.c_str()) {
    return Status::Invalid("pidfile " + path + " does not hold a PID (read '" + text + "')");
  }
  auto start = ProcessStartTime(static_cast<pid_t>(pid));
  if (!start) return Status::NotFound("pidfile " + path + " names PID " + std::to_string(pid) +
                                      ", which is not running");
  out->push_back({static_cast<pid_t>(pid), *start, ReadCmdline(static_cast<pid_t>(pid))});
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(e));
    }
    done += n;
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return Status::Unavailable("fsync " + tmp + ": " + std::strerror(e));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Status::Unavailable("rename " + tmp + ": " + std::strerror(e));
  }
  std::string dir = path.substr(0, path.rfind('/'));
  int dfd = open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

Status ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? Status::NotFound(path + ": no such file")
                           : Status::Unavailable(path + ": " + std::strerror(errno));
  }
  out->clear();
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, n);
  }
  close(fd);
  return Status::Ok();
}

long long MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Status SpawnDetached(const std::vector<std::string>& argv, pid_t* pid) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return Status::Unavailable(std::strerror(errno));
  auto cargv = CArgv(argv);
  // Re-executing ourselves goes through /proc/self/exe: it still names this binary when the
  // file was replaced or removed (a newer build pruned it from the cache).
  const char* exec_path = cargv[0];
  if (!argv.empty() && argv[0] == SelfExe()) exec_path = "/proc/self/exe";
  pid_t child = fork();
  if (child < 0) return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) {
      ssize_t ignored = write(report[1], &grandchild, sizeof grandchild);
      (void)ignored;
      _exit(grandchild > 0 ? 0 : 1);
    }
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    CloseFrom(3);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_IGN);
    execv(exec_path, cargv.data());
    _exit(127);
  }
  close(report[1]);
  pid_t got = 0;
  ssize_t n = read(report[0], &got, sizeof got);
  close(report[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (n != sizeof got || got <= 0) return Status::Unavailable("cannot start " + argv[0]);
  *pid = got;
  return Status::Ok();
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, n);
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() &&
      path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0) {
    path.resize(path.size() - deleted.size());
  }
  return path;
}

KernelFeatures DetectFeatures() {
  KernelFeatures f;
  utsname u;
  uname(&u);
  std::string modules = std::string("/lib/modules/") + u.release + "/";
  std::string disabled;
  bool can_load = ReadFile("/proc/sys/kernel/modules_disabled", &disabled).ok() &&
                  disabled.rfind("0", 0) == 0;
  // Built in or loaded: its symbols are in kallsyms. Loadable: the kernel loads a
  // qdisc module on first use, if module loading is allowed at all.
  f.netem = FileExists("/sys/module/sch_netem") ||
            FileContains("/proc/kallsyms", " netem_enqueue") ||
            (can_load && (FileExists(modules + "kernel/net/sched/sch_netem.ko") ||
                          FileExists(modules + "kernel/net/sched/sch_netem.ko.xz") ||
                          FileExists(modules + "kernel/net/sched/sch_netem.ko.zst")));
  f.nfqueue = FileExists("/proc/net/netfilter/nfnetlink_queue") ||
              FileExists("/sys/module/nfnetlink_queue");
  f.systemd = FileExists("/run/systemd/system");
  CommandResult r;
  if (RunCommand({"iptables", "--version"}, &r).ok() && r.exit_status == 0) {
    f.iptables = r.out.find("nf_tables") != std::string::npos ? "nft" : "legacy";
  }
  f.conntrack_tool = OnPath("conntrack");
  return f;
}

}  // namespace faultline::agent

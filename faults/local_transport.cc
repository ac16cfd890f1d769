// Boost.Process would otherwise pull in Boost.Filesystem, which Debian ships only for an
// older Boost than the headers we build against.
#define BOOST_PROCESS_USE_STD_FS 1

#include "faults/local_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>

#include "base/duration.h"
#include "orchestrator/inventory.h"

namespace faultline {
namespace {

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

// Output beyond this is dropped: a probe or fault command has no business printing more,
// and a runaway one must not take the controller's memory with it.
constexpr size_t kMaxCapture = 16u << 20;
// After the command itself exits, how long to keep reading from children it left behind
// that still hold its stdout (a daemon started in the background).
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);

std::string ErrnoText(int err) { return std::strerror(err); }

void IgnoreSigpipeOnce() {
  // A child that exits without reading its stdin must not kill the controller with
  // SIGPIPE; the write then fails with EPIPE and is handled. Children get SIGPIPE back
  // to its default before exec (see Spawn).
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// A started child and the controller's ends of its three pipes.
struct Spawned {
  std::unique_ptr<bp::child> child;
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  ~Spawned() {
    CloseFd(&in_fd);
    CloseFd(&out_fd);
    CloseFd(&err_fd);
  }
};

Status Spawn(const std::vector<std::string>& argv, Spawned* out) {
  if (argv.empty() || argv[0].empty()) return Status::Invalid("empty command");
  IgnoreSigpipeOnce();
  std::filesystem::path exe;
  if (argv[0].find('/') != std::string::npos) {
    exe = argv[0];
  } else {
    exe = bp::search_path(argv[0]);
    if (exe.empty()) return Status::Unavailable("command not found in PATH: " + argv[0]);
  }
  int in[2], o[2], e[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::Unavailable("pipe: " + ErrnoText(errno));
  if (pipe2(o, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    return Status::Unavailable("pipe: " + ErrnoText(errno));
  }
  if (pipe2(e, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(o[0]), ::close(o[1]);
    return Status::Unavailable("pipe: " + ErrnoText(errno));
  }
  bp::pipe pin(in[0], in[1]), pout(o[0], o[1]), perr(e[0], e[1]);
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  std::error_code ec;
  auto child = std::make_unique<bp::child>(
      bp::exe = exe.string(), bp::args = args, bp::std_in < pin, bp::std_out > pout,
      bp::std_err > perr, bp::extend::on_exec_setup([](auto&) {
        // Only async-signal-safe calls here: this runs between fork and exec.
        ::setpgid(0, 0);
        ::signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
      }),
      ec);
  if (ec) return Status::Unavailable("cannot start " + argv[0] + ": " + ec.message());
  out->in_fd = pin.native_sink();
  pin.assign_sink(-1);
  out->out_fd = pout.native_source();
  pout.assign_source(-1);
  out->err_fd = perr.native_source();
  perr.assign_source(-1);
  out->child = std::move(child);
  return Status::Ok();
}

// Reads what is available without blocking; returns false at end-of-file or error.
bool ReadAvailable(int fd, std::string* sink) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (sink->size() < kMaxCapture) sink->append(buf, std::min<size_t>(n, kMaxCapture - sink->size()));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Kills the child's whole process group and reaps the child.
void KillGroup(bp::child& child) {
  pid_t pid = child.id();
  if (pid > 0) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  std::error_code ec;
  while (child.running(ec)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

int DecodeExit(int raw, bool* signalled) {
  *signalled = false;
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  *signalled = true;
  return -1;
}

class LocalChannel : public Channel {
 public:
  LocalChannel(std::unique_ptr<Spawned> proc, std::string what)
      : proc_(std::move(proc)), what_(std::move(what)) {
    SetNonBlocking(proc_->out_fd);
    SetNonBlocking(proc_->err_fd);
  }
  ~LocalChannel() override { Close(); }

  Status WriteLine(const std::string& line) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (proc_->in_fd < 0) return Status::Unavailable(what_ + ": channel closed");
    std::string data = line + "\n";
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(proc_->in_fd, data.data() + done, data.size() - done);
      if (n > 0) {
        done += n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return Status::Unavailable(what_ + ": write to stdin failed: " + ErrnoText(errno));
      }
    }
    return Status::Ok();
  }

  Status ReadLine(std::string* line, std::chrono::milliseconds timeout) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        *line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return Status::Ok();
      }
      if (proc_->out_fd < 0) {
        if (!buffer_.empty()) {
          *line = std::move(buffer_);
          buffer_.clear();
          return Status::Ok();
        }
        return Status::Unavailable(what_ + ": process ended" + ExitText() + StderrText());
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Status::Timeout(what_ + ": no line within " + std::to_string(timeout.count()) + "ms");
      pollfd fds[2] = {{proc_->out_fd, POLLIN, 0}, {proc_->err_fd, POLLIN, 0}};
      int nfds = proc_->err_fd >= 0 ? 2 : 1;
      int rc = ::poll(fds, nfds, static_cast<int>(std::min<long long>(left.count(), 1000)));
      if (rc < 0 && errno != EINTR) return Status::Unavailable(what_ + ": poll: " + ErrnoText(errno));
      if (rc <= 0) continue;
      if (fds[0].revents) {
        if (!ReadAvailable(proc_->out_fd, &buffer_)) CloseFd(&proc_->out_fd);
      }
      if (nfds == 2 && fds[1].revents) {
        if (!ReadAvailable(proc_->err_fd, &stderr_)) CloseFd(&proc_->err_fd);
        if (stderr_.size() > 4096) stderr_.erase(0, stderr_.size() - 4096);
      }
    }
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      CloseFd(&proc_->in_fd);
    }
    if (!proc_->child || closed_) return;
    closed_ = true;
    // The process was asked to finish by end-of-file on stdin; give it a moment to be
    // reaped, and otherwise leave it running: closing a channel kills nothing.
    std::error_code ec;
    auto until = Clock::now() + std::chrono::seconds(2);
    while (proc_->child->running(ec) && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (proc_->child->running(ec)) proc_->child->detach();
  }

 private:
  std::string ExitText() {
    std::error_code ec;
    if (!proc_->child || proc_->child->running(ec)) return "";
    bool sig = false;
    int code = DecodeExit(proc_->child->native_exit_code(), &sig);
    return sig ? " (killed by a signal)" : " (exit status " + std::to_string(code) + ")";
  }
  std::string StderrText() const {
    if (stderr_.empty()) return "";
    std::string s = stderr_;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return ": " + s;
  }

  std::unique_ptr<Spawned> proc_;
  std::string what_;
  std::mutex write_mu_;
  std::mutex read_mu_;
  std::string buffer_;
  std::string stderr_;
  bool closed_ = false;
};

std::atomic<unsigned> g_upload_counter{0};

}  // namespace

LocalTransport::LocalTransport(std::string host, std::string netns)
    : host_(std::move(host)), netns_(std::move(netns)) {}

std::vector<std::string> LocalTransport::Wrap(const std::vector<std::string>& argv) const {
  if (netns_.empty()) return argv;
  std::vector<std::string> out = {"ip", "netns", "exec", netns_};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string LocalTransport::Describe() const {
  return netns_.empty() ? "local" : "netns " + netns_;
}

Status LocalTransport::Exec(const ExecRequest& request, ExecResult* out) {
  *out = ExecResult();
  if (request.argv.empty()) return Status::Invalid(host_ + ": empty command");
  auto proc = std::make_unique<Spawned>();
  Status st = Spawn(Wrap(request.argv), proc.get());
  if (!st.ok()) return st.Annotate(host_);
  SetNonBlocking(proc->out_fd);
  SetNonBlocking(proc->err_fd);
  size_t written = 0;
  if (request.stdin_data.empty()) {
    CloseFd(&proc->in_fd);
  } else {
    SetNonBlocking(proc->in_fd);
  }

  bp::child& child = *proc->child;
  const auto deadline = Clock::now() + request.timeout;
  std::optional<Clock::time_point> exited_at;
  std::error_code ec;
  for (;;) {
    if (!exited_at && !child.running(ec)) exited_at = Clock::now();
    if (exited_at) {
      bool drained = proc->out_fd < 0 && proc->err_fd < 0;
      if (drained || Clock::now() - *exited_at > kDrainAfterExit) break;
    } else if (Clock::now() >= deadline) {
      KillGroup(child);
      out->timed_out = true;
      // Whatever the killed group already wrote is still useful in the error message.
      if (proc->out_fd >= 0) ReadAvailable(proc->out_fd, &out->stdout_data);
      if (proc->err_fd >= 0) ReadAvailable(proc->err_fd, &out->stderr_data);
      out->exit_status = -1;
      return Status::Timeout(host_ + ": " + request.argv[0] + " did not finish within " +
                             FormatDuration(std::chrono::duration_cast<Millis>(request.timeout)));
    }
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (proc->out_fd >= 0) out_i = n, fds[n++] = {proc->out_fd, POLLIN, 0};
    if (proc->err_fd >= 0) err_i = n, fds[n++] = {proc->err_fd, POLLIN, 0};
    if (proc->in_fd >= 0) in_i = n, fds[n++] = {proc->in_fd, POLLOUT, 0};
    // Child exit is not a pollable event here, so wake up often enough to notice it once
    // its pipes are closed or held by something it left behind.
    int wait_ms = (n == 0 || exited_at) ? 5 : 20;
    int rc = ::poll(fds, n, wait_ms);
    if (rc < 0 && errno != EINTR) {
      KillGroup(child);
      return Status::Unavailable(host_ + ": poll: " + ErrnoText(errno));
    }
    if (rc <= 0) continue;
    if (out_i >= 0 && fds[out_i].revents && !ReadAvailable(proc->out_fd, &out->stdout_data)) {
      CloseFd(&proc->out_fd);
    }
    if (err_i >= 0 && fds[err_i].revents && !ReadAvailable(proc->err_fd, &out->stderr_data)) {
      CloseFd(&proc->err_fd);
    }
    if (in_i >= 0 && fds[in_i].revents) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        CloseFd(&proc->in_fd);
      } else {
        ssize_t w = ::write(proc->in_fd, request.stdin_data.data() + written,
                            request.stdin_data.size() - written);
        if (w > 0) written += w;
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == request.stdin_data.size()) {
          CloseFd(&proc->in_fd);
        }
      }
    }
  }
  bool signalled = false;
  out->exit_status = DecodeExit(child.native_exit_code(), &signalled);
  return Status::Ok();
}

Status LocalTransport::Open(const std::vector<std::string>& argv, std::unique_ptr<Channel>* out) {
  auto proc = std::make_unique<Spawned>();
  Status st = Spawn(Wrap(argv), proc.get());
  if (!st.ok()) return st.Annotate(host_);
  *out = std::make_unique<LocalChannel>(std::move(proc), host_ + ": " + argv[0]);
  return Status::Ok();
}

Status LocalTransport::Upload(const std::string& local_path, const std::string& remote_path, int mode) {
  // A network namespace shares the file system, so both kinds copy in place.
  int src = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return Status::NotFound("upload: cannot read " + local_path + ": " + ErrnoText(errno));
  std::string tmp = remote_path + ".faultline-tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(g_upload_counter++);
  int dst = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (dst < 0) {
    int err = errno;
    ::close(src);
    return Status::Unavailable(host_ + ": upload: cannot create " + tmp + ": " + ErrnoText(err));
  }
  char buf[65536];
  Status result = Status::Ok();
  for (;;) {
    ssize_t n = ::read(src, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      result = Status::Unavailable("upload: reading " + local_path + ": " + ErrnoText(errno));
      break;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(dst, buf + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        result = Status::Unavailable(host_ + ": upload: writing " + tmp + ": " + ErrnoText(errno));
        break;
      }
      done += w;
    }
    if (!result.ok()) break;
  }
  ::close(src);
  if (result.ok() && ::fchmod(dst, mode) != 0) {
    result = Status::Unavailable(host_ + ": upload: chmod " + tmp + ": " + ErrnoText(errno));
  }
  if (result.ok() && ::fsync(dst) != 0) {
    result = Status::Unavailable(host_ + ": upload: fsync " + tmp + ": " + ErrnoText(errno));
  }
  ::close(dst);
  if (result.ok() && ::rename(tmp.c_str(), remote_path.c_str()) != 0) {
    result = Status::Unavailable(host_ + ": upload: rename to " + remote_path + ": " + ErrnoText(errno));
  }
  if (!result.ok()) {
    ::unlink(tmp.c_str());
    return result;
  }
  // The rename is durable only once the directory is synced.
  std::string dir = std::filesystem::path(remote_path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

void RegisterLocalTransports() {
  RegisterTransportKind("local", [](const InventoryHost& host, const TransportOptions&,
                                    std::unique_ptr<Transport>* out) {
    *out = std::make_unique<LocalTransport>(host.name, "");
    return Status::Ok();
  });
  RegisterTransportKind("netns", [](const InventoryHost& host, const TransportOptions&,
                                    std::unique_ptr<Transport>* out) {
    std::string ns = host.VarString("faultline_netns");
    if (ns.empty()) {
      return Status::Invalid("host " + host.name + " (" + host.mark.ToString() +
                             "): faultline_transport is netns but faultline_netns is not set");
    }
    if (ns.find('/') != std::string::npos) {
      return Status::Invalid("host " + host.name + ": faultline_netns '" + ns + "' is not a namespace name");
    }
    struct stat st {};
    if (::stat(("/run/netns/" + ns).c_str(), &st) != 0) {
      return Status::Unavailable("host " + host.name + ": network namespace '" + ns +
                                 "' does not exist (expected /run/netns/" + ns + ")");
    }
    *out = std::make_unique<LocalTransport>(host.name, ns);
    return Status::Ok();
  });
}

}  // namespace faultline

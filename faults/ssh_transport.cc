#include "faults/ssh_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "base/duration.h"
#include "base/shell.h"
#include "orchestrator/inventory.h"

namespace faultline {

namespace {

using Clock = std::chrono::steady_clock;

// While a thread waits for output it polls the socket outside the session lock; another
// thread may meanwhile have pulled this channel's data into libssh's buffers, so the wait
// is bounded and the buffers are checked again after it.
constexpr int kPollSliceMs = 10;

std::once_flag g_libssh_init;
void InitLibssh() {
  std::call_once(g_libssh_init, [] { ssh_init(); });
}

// Two sessions accepting new keys at once must not interleave their appends.
std::mutex g_known_hosts_mu;

std::string EndpointText(const SshEndpoint& ep) {
  return ep.user + "@" + ep.address + ":" + std::to_string(ep.port);
}

std::string DefaultKnownHosts() {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.ssh/known_hosts";
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

void WaitReadable(int fd, int timeout_ms) {
  if (fd < 0) {
    ::usleep(static_cast<useconds_t>(timeout_ms) * 1000);
    return;
  }
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, timeout_ms);
}

// Splits ansible_ssh_common_args the way a shell would split simple words and quotes.
std::vector<std::string> SplitArgs(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0; else cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t') {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push_back(cur);
  return out;
}

}  // namespace

// One authenticated libssh session. REQUIRES: every libssh call on `s` holds `mu`.
class SshSession {
 public:
  ~SshSession() {
    stop_pump_ = true;
    if (pump_.joinable()) pump_.join();
    if (s) {
      std::lock_guard<std::mutex> lock(mu);
      ssh_disconnect(s);
      ssh_free(s);
    }
    if (via_ && forward_) {
      std::lock_guard<std::mutex> lock(via_->mu);
      ssh_channel_close(forward_);
      ssh_channel_free(forward_);
    }
    if (pump_fd_ >= 0) ::close(pump_fd_);
  }

  // Connects to `ep` (through `via` when given), checks its host key and authenticates.
  static Status Open(const SshTarget& target, const SshEndpoint& ep,
                     std::shared_ptr<SshSession> via, std::shared_ptr<SshSession>* out);

  bool Alive() {
    std::lock_guard<std::mutex> lock(mu);
    return s && ssh_is_connected(s);
  }
  int fd() {
    std::lock_guard<std::mutex> lock(mu);
    return s ? ssh_get_fd(s) : -1;
  }

  std::mutex mu;
  ssh_session s = nullptr;
  std::string where;  // "root@10.0.0.1:22", for messages

 private:
  Status StartForward(const SshEndpoint& ep, int* inner_fd);
  void Pump();

  std::shared_ptr<SshSession> via_;
  ssh_channel forward_ = nullptr;  // on via_'s session
  int pump_fd_ = -1;
  std::thread pump_;
  std::atomic<bool> stop_pump_{false};
};

Status SshSession::StartForward(const SshEndpoint& ep, int* inner_fd) {
  {
    std::lock_guard<std::mutex> lock(via_->mu);
    forward_ = ssh_channel_new(via_->s);
    if (!forward_) return Status::Unavailable("jump host " + via_->where + ": cannot open a channel");
    if (ssh_channel_open_forward(forward_, ep.address.c_str(), ep.port, "127.0.0.1", 0) != SSH_OK) {
      std::string why = ssh_get_error(via_->s);
      ssh_channel_free(forward_);
      forward_ = nullptr;
      return Status::Unavailable("jump host " + via_->where + " cannot reach " + ep.address + ":" +
                                 std::to_string(ep.port) + ": " + why);
    }
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::Internal(std::string("socketpair: ") + std::strerror(errno));
  }
  pump_fd_ = sv[1];
  *inner_fd = sv[0];
  pump_ = std::thread([this] { Pump(); });
  return Status::Ok();
}

// Copies bytes between the forwarded channel on the jump session and the socket the
// inner session reads, so the inner session is a normal libssh session with its own
// host-key check and authentication end to end.
void SshSession::Pump() {
  std::vector<char> buf(32 * 1024);
  int via_fd = via_->fd();
  while (!stop_pump_) {
    bool moved = false;
    int n;
    {
      std::lock_guard<std::mutex> lock(via_->mu);
      n = ssh_channel_read_nonblocking(forward_, buf.data(), static_cast<uint32_t>(buf.size()), 0);
      if (n == 0 && (ssh_channel_is_eof(forward_) || ssh_channel_is_closed(forward_))) n = -1;
    }
    if (n < 0) break;
    if (n > 0) {
      moved = true;
      for (int off = 0; off < n;) {
        ssize_t w = ::write(pump_fd_, buf.data() + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { stop_pump_ = true; break; }
        off += static_cast<int>(w);
      }
    }
    pollfd p{pump_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      ssize_t r = ::read(pump_fd_, buf.data(), buf.size());
      if (r <= 0) break;
      moved = true;
      std::lock_guard<std::mutex> lock(via_->mu);
      if (ssh_channel_write(forward_, buf.data(), static_cast<uint32_t>(r)) != r) break;
    }
    if (!moved) {
      pollfd ps[2] = {{pump_fd_, POLLIN, 0}, {via_fd, POLLIN, 0}};
      ::poll(ps, 2, kPollSliceMs);
    }
  }
  ::shutdown(pump_fd_, SHUT_RDWR);
}

Status SshSession::Open(const SshTarget& target, const SshEndpoint& ep,
                        std::shared_ptr<SshSession> via, std::shared_ptr<SshSession>* out) {
  InitLibssh();
  auto self = std::make_shared<SshSession>();
  self->where = EndpointText(ep);
  self->via_ = std::move(via);
  int inner_fd = -1;
  if (self->via_) FAULTLINE_RETURN_IF_ERROR(self->StartForward(ep, &inner_fd));

  std::lock_guard<std::mutex> lock(self->mu);
  self->s = ssh_new();
  if (!self->s) return Status::Internal("ssh_new failed");
  ssh_session s = self->s;
  const std::string known_hosts = target.known_hosts.empty() ? DefaultKnownHosts() : target.known_hosts;
  int port = ep.port;
  long secs = static_cast<long>(target.connect_timeout.count() / 1000);
  long usecs = static_cast<long>(target.connect_timeout.count() % 1000) * 1000;
  int no = 0;
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);  // ~/.ssh/config must not change a drill
  ssh_options_set(s, SSH_OPTIONS_HOST, ep.address.c_str());
  ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  ssh_options_set(s, SSH_OPTIONS_USER, ep.user.c_str());
  ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str());
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &secs);
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usecs);
  if (inner_fd >= 0) {
    socket_t fd = inner_fd;
    ssh_options_set(s, SSH_OPTIONS_FD, &fd);
  }

  if (ssh_connect(s) != SSH_OK) {
    return Status::Unavailable("cannot connect to " + self->where + ": " + ssh_get_error(s));
  }

  // Host key: strict unless the caller accepted new keys; a changed key is always refused.
  ssh_key server_key = nullptr;
  std::string fingerprint = "?";
  std::string key_type = "?";
  if (ssh_get_server_publickey(s, &server_key) == SSH_OK) {
    unsigned char* hash = nullptr;
    size_t hlen = 0;
    if (ssh_get_publickey_hash(server_key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
      char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
      if (fp) { fingerprint = fp; ssh_string_free_char(fp); }
      ssh_clean_pubkey_hash(&hash);
    }
    key_type = ssh_key_type_to_char(ssh_key_type(server_key));
    ssh_key_free(server_key);
  }
  const std::string key_desc = key_type + " " + fingerprint;
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
      return Status::Unavailable("host key of " + self->where + " has CHANGED (now " + key_desc +
                                 ", " + known_hosts + " says otherwise): refusing to connect; if the "
                                 "host was rebuilt, remove its old line from " + known_hosts);
    case SSH_KNOWN_HOSTS_OTHER:
      return Status::Unavailable("host key of " + self->where + " (" + key_desc + ") does not match the "
                                 "key of another type recorded in " + known_hosts + ": refusing to connect");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!target.accept_new_host_keys) {
        return Status::Unavailable("host key of " + self->where + " (" + key_desc + ") is not in " +
                                   known_hosts + ": add it (ssh-keyscan) or run with "
                                   "--accept-new-host-keys");
      } else {
        std::lock_guard<std::mutex> kh(g_known_hosts_mu);
        if (ssh_session_update_known_hosts(s) != SSH_OK) {
          return Status::Unavailable("cannot add the host key of " + self->where + " to " +
                                     known_hosts + ": " + ssh_get_error(s));
        }
      }
      break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return Status::Unavailable("cannot check the host key of " + self->where + " against " +
                                 known_hosts + ": " + ssh_get_error(s));
  }

  std::string tried;
  int rc = SSH_AUTH_DENIED;
  if (!target.key_file.empty()) {
    tried = "key file " + target.key_file;
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(target.key_file.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      return Status::Invalid("cannot read the private key " + target.key_file + " (for " + self->where +
                             "): missing, unreadable or protected by a passphrase (use ssh-agent)");
    }
    rc = ssh_userauth_publickey(s, nullptr, key);
    ssh_key_free(key);
  } else {
    tried = "ssh-agent and default keys";
    rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  }
  if (rc != SSH_AUTH_SUCCESS && !target.password_env.empty()) {
    tried += ", password from $" + target.password_env;
    const char* pw = std::getenv(target.password_env.c_str());
    if (pw) rc = ssh_userauth_password(s, nullptr, pw);
    else tried += " (not set)";
  }
  if (rc != SSH_AUTH_SUCCESS) {
    return Status::Unavailable("authentication as " + ep.user + " refused by " + self->where +
                               " (tried " + tried + ")");
  }
  *out = self;
  return Status::Ok();
}

namespace {

// Reads what is buffered on both streams of `ch`. REQUIRES: session->mu held.
// Returns false on a read error.
bool Drain(ssh_channel ch, std::string* out, std::string* err, bool* got) {
  char buf[16384];
  for (int is_stderr = 0; is_stderr <= 1; ++is_stderr) {
    for (;;) {
      int n = ssh_channel_read_nonblocking(ch, buf, sizeof buf, is_stderr);
      if (n == SSH_ERROR) return false;
      if (n <= 0) break;
      *got = true;
      (is_stderr ? err : out)->append(buf, static_cast<size_t>(n));
    }
  }
  return true;
}

Status WriteAll(SshSession& ss, ssh_channel ch, const std::string& data, const std::string& where) {
  size_t off = 0;
  while (off < data.size()) {
    std::lock_guard<std::mutex> lock(ss.mu);
    uint32_t chunk = static_cast<uint32_t>(std::min<size_t>(data.size() - off, 32768));
    int w = ssh_channel_write(ch, data.data() + off, chunk);
    if (w == SSH_ERROR) return Status::Unavailable(where + ": write failed: " + ssh_get_error(ss.s));
    off += static_cast<size_t>(w);
  }
  return Status::Ok();
}

class SshChannel : public Channel {
 public:
  SshChannel(std::shared_ptr<SshSession> ss, ssh_channel ch, std::string where)
      : ss_(std::move(ss)), ch_(ch), where_(std::move(where)) {}
  ~SshChannel() override { Close(); }

  Status WriteLine(const std::string& line) override {
    if (closed_) return Status::Unavailable(where_ + ": channel closed");
    return WriteAll(*ss_, ch_, line + "\n", where_);
  }

  Status ReadLine(std::string* line, std::chrono::milliseconds timeout) override {
    auto deadline = Clock::now() + timeout;
    int fd = ss_->fd();
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return Status::Ok();
      }
      if (closed_) return Status::Unavailable(where_ + ": channel closed");
      bool got = false, ended = false;
      {
        std::lock_guard<std::mutex> lock(ss_->mu);
        if (!Drain(ch_, &buf_, &stderr_, &got)) ended = true;
        if (!got && (ssh_channel_is_eof(ch_) || ssh_channel_is_closed(ch_))) ended = true;
      }
      if (stderr_.size() > 8192) stderr_.erase(0, stderr_.size() - 4096);
      if (got) continue;
      if (ended) {
        return Status::Unavailable(where_ + ": the remote process ended" +
                                   (stderr_.empty() ? std::string() : ": " + stderr_));
      }
      int left = MillisLeft(deadline);
      if (left == 0) return Status::Timeout(where_ + ": no line within " + std::to_string(timeout.count()) + " ms");
      WaitReadable(fd, std::min(left, kPollSliceMs));
    }
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    std::lock_guard<std::mutex> lock(ss_->mu);
    ssh_channel_send_eof(ch_);
    ssh_channel_close(ch_);
    ssh_channel_free(ch_);
  }

 private:
  std::shared_ptr<SshSession> ss_;
  ssh_channel ch_;
  std::string where_;
  std::string buf_;
  std::string stderr_;
  std::atomic<bool> closed_{false};
};

// Opens a session channel and starts `command` on it. REQUIRES: ss.mu not held.
Status StartCommand(SshSession& ss, const std::string& command, ssh_channel* out) {
  std::lock_guard<std::mutex> lock(ss.mu);
  ssh_channel ch = ssh_channel_new(ss.s);
  if (!ch) return Status::Unavailable("cannot create a channel: " + std::string(ssh_get_error(ss.s)));
  if (ssh_channel_open_session(ch) != SSH_OK) {
    std::string why = ssh_get_error(ss.s);
    ssh_channel_free(ch);
    return Status::Unavailable("cannot open a channel: " + why);
  }
  if (ssh_channel_request_exec(ch, command.c_str()) != SSH_OK) {
    std::string why = ssh_get_error(ss.s);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
    return Status::Unavailable("exec refused: " + why);
  }
  *out = ch;
  return Status::Ok();
}

// Kills the process group of a timed-out command (no job control in the non-interactive
// shells involved, so the command and all it started share the group), best effort.
void KillRemoteGroup(SshSession& ss, const std::string& pid) {
  if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) return;
  const std::string script =
      "g=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -d' ' -f3); "
      "[ -n \"$g\" ] && [ \"$g\" -gt 1 ] && kill -KILL -- -\"$g\" 2>/dev/null; kill -KILL \"$1\" 2>/dev/null; true";
  ssh_channel ch = nullptr;
  if (!StartCommand(ss, ShellJoin({"sh", "-c", script, "faultline-kill", pid}), &ch).ok()) return;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  int fd = ss.fd();
  for (;;) {
    std::string o, e;
    bool got = false, done = false;
    {
      std::lock_guard<std::mutex> lock(ss.mu);
      done = !Drain(ch, &o, &e, &got) || (!got && (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)));
    }
    if (done || MillisLeft(deadline) == 0) break;
    if (!got) WaitReadable(fd, kPollSliceMs);
  }
  std::lock_guard<std::mutex> lock(ss.mu);
  ssh_channel_close(ch);
  ssh_channel_free(ch);
}

}  // namespace

SshTransport::SshTransport(SshTarget target) : target_(std::move(target)) {}
SshTransport::~SshTransport() = default;

std::string SshTransport::Describe() const {
  std::string d = "ssh " + EndpointText(target_.endpoint);
  if (target_.jump) d += " via " + EndpointText(*target_.jump);
  return d;
}

Status SshTransport::Connect() {
  std::shared_ptr<SshSession> ss;
  return Session(&ss);
}

Status SshTransport::Session(std::shared_ptr<SshSession>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (session_ && session_->Alive()) {
    *out = session_;
    return Status::Ok();
  }
  session_.reset();
  std::shared_ptr<SshSession> via;
  if (target_.jump) {
    Status st = SshSession::Open(target_, *target_.jump, nullptr, &via);
    if (!st.ok()) return st.Annotate(target_.host_name + " (jump host)");
  }
  Status st = SshSession::Open(target_, target_.endpoint, via, &session_);
  if (!st.ok()) {
    session_.reset();
    return st.Annotate(target_.host_name);
  }
  *out = session_;
  return Status::Ok();
}

Status SshTransport::Exec(const ExecRequest& request, ExecResult* out) {
  *out = ExecResult();
  if (request.argv.empty()) return Status::Invalid(target_.host_name + ": exec of an empty command");
  const std::string where = target_.host_name + ": `" + ShellJoin(request.argv) + "`";
  // sshd refuses signal requests on root sessions, so a timed-out command is killed by its
  // process group instead; the wrapper reports its pid first and then becomes the command.
  std::vector<std::string> wrapped = {"sh", "-c", "echo $$; exec \"$@\"", "faultline-exec"};
  wrapped.insert(wrapped.end(), request.argv.begin(), request.argv.end());
  const std::string command = ShellJoin(wrapped);
  auto deadline = Clock::now() + request.timeout;

  std::shared_ptr<SshSession> ss;
  FAULTLINE_RETURN_IF_ERROR(Session(&ss));
  ssh_channel ch = nullptr;
  Status st = StartCommand(*ss, command, &ch);
  if (!st.ok() && !ss->Alive()) {
    // The server dropped the connection since the last request: connect once more.
    FAULTLINE_RETURN_IF_ERROR(Session(&ss));
    st = StartCommand(*ss, command, &ch);
  }
  if (!st.ok()) return st.Annotate(where);

  std::string pid;
  auto finish = [&](bool kill) {
    {
      std::lock_guard<std::mutex> lock(ss->mu);
      ssh_channel_close(ch);
      ssh_channel_free(ch);
    }
    if (kill && !pid.empty()) KillRemoteGroup(*ss, pid);
  };
  // Moves the wrapper's pid line out of the command's output as soon as it is complete.
  auto take_pid = [&] {
    if (!pid.empty()) return;
    auto nl = out->stdout_data.find('\n');
    if (nl == std::string::npos) return;
    pid = out->stdout_data.substr(0, nl);
    out->stdout_data.erase(0, nl + 1);
  };

  if (!request.stdin_data.empty()) {
    st = WriteAll(*ss, ch, request.stdin_data, where);
    if (!st.ok()) { finish(true); return st; }
  }
  {
    std::lock_guard<std::mutex> lock(ss->mu);
    ssh_channel_send_eof(ch);
  }
  int fd = ss->fd();
  for (;;) {
    bool got = false, eof = false, error = false;
    {
      std::lock_guard<std::mutex> lock(ss->mu);
      if (!Drain(ch, &out->stdout_data, &out->stderr_data, &got)) error = true;
      else if (!got && (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))) eof = true;
    }
    take_pid();
    if (error) {
      finish(false);
      return Status::Unavailable(where + ": connection lost while reading output");
    }
    if (eof) break;
    if (got) continue;
    int left = MillisLeft(deadline);
    if (left == 0) {
      finish(true);
      out->timed_out = true;
      return Status::Timeout(where + ": did not finish within " + FormatDuration(request.timeout));
    }
    WaitReadable(fd, std::min(left, kPollSliceMs));
  }
  // The exit status follows EOF closely; wait for it within what is left of the deadline.
  for (;;) {
    int status = -1;
    bool closed;
    {
      std::lock_guard<std::mutex> lock(ss->mu);
      // Pumps pending packets without blocking, so exit-status/close get processed.
      char b;
      ssh_channel_read_nonblocking(ch, &b, 0, 0);
      status = ssh_channel_get_exit_status(ch);
      closed = ssh_channel_is_closed(ch);
    }
    if (status != -1 || closed) {
      out->exit_status = status;
      break;
    }
    int left = MillisLeft(deadline);
    if (left == 0) {
      finish(true);
      out->timed_out = true;
      return Status::Timeout(where + ": no exit status within " + FormatDuration(request.timeout));
    }
    WaitReadable(fd, std::min(left, kPollSliceMs));
  }
  finish(false);
  return Status::Ok();
}

Status SshTransport::Open(const std::vector<std::string>& argv, std::unique_ptr<Channel>* out) {
  if (argv.empty()) return Status::Invalid(target_.host_name + ": open of an empty command");
  const std::string command = ShellJoin(argv);
  std::shared_ptr<SshSession> ss;
  FAULTLINE_RETURN_IF_ERROR(Session(&ss));
  ssh_channel ch = nullptr;
  Status st = StartCommand(*ss, command, &ch);
  if (!st.ok() && !ss->Alive()) {
    FAULTLINE_RETURN_IF_ERROR(Session(&ss));
    st = StartCommand(*ss, command, &ch);
  }
  if (!st.ok()) return st.Annotate(target_.host_name + ": `" + command + "`");
  *out = std::make_unique<SshChannel>(ss, ch, target_.host_name + ": `" + command + "`");
  return Status::Ok();
}

Status SshTransport::SendFile(const std::string& local_path, const std::string& remote_path, int mode,
                              std::string* tmp_out) {
  const std::string where = target_.host_name + ": upload " + local_path + " -> " + remote_path;
  std::ifstream in(local_path, std::ios::binary);
  if (!in) return Status::NotFound(where + ": cannot read " + local_path);
  std::shared_ptr<SshSession> ss;
  FAULTLINE_RETURN_IF_ERROR(Session(&ss));

  // SFTP calls block; the whole transfer holds the session, which is acceptable for the
  // rare, small uploads (the agent) this is for.
  std::lock_guard<std::mutex> lock(ss->mu);
  sftp_session sftp = sftp_new(ss->s);
  if (!sftp) return Status::Unavailable(where + ": cannot start SFTP: " + ssh_get_error(ss->s));
  struct SftpGuard {
    sftp_session s;
    ~SftpGuard() { sftp_free(s); }
  } guard{sftp};
  if (sftp_init(sftp) != SSH_OK) {
    return Status::Unavailable(where + ": SFTP subsystem refused (is `Subsystem sftp` configured?): " +
                               ssh_get_error(ss->s));
  }
  static std::atomic<unsigned> counter{0};
  const std::string tmp = remote_path + ".faultline-tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter++);
  sftp_file f = sftp_open(sftp, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, static_cast<mode_t>(mode));
  if (!f) {
    return Status::Unavailable(where + ": cannot create " + tmp + " (SFTP error " +
                               std::to_string(sftp_get_error(sftp)) + ": " + ssh_get_error(ss->s) + ")");
  }
  std::vector<char> buf(64 * 1024);
  Status st;
  while (st.ok() && in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (sftp_write(f, buf.data(), static_cast<size_t>(n)) != n) {
      st = Status::Unavailable(where + ": write to " + tmp + " failed: " + ssh_get_error(ss->s));
    }
  }
  if (st.ok() && in.bad()) st = Status::Unavailable(where + ": reading " + local_path + " failed");
  // Durable before it becomes visible under its real name.
  if (st.ok() && sftp_extension_supported(sftp, "fsync@openssh.com", "1") && sftp_fsync(f) != 0) {
    st = Status::Unavailable(where + ": fsync of " + tmp + " failed");
  }
  sftp_close(f);
  // The server's umask may have narrowed the mode given at creation.
  if (st.ok() && sftp_chmod(sftp, tmp.c_str(), static_cast<mode_t>(mode)) != 0) {
    st = Status::Unavailable(where + ": chmod of " + tmp + " failed");
  }
  if (!st.ok()) sftp_unlink(sftp, tmp.c_str());
  *tmp_out = tmp;
  return st;
}

Status SshTransport::Upload(const std::string& local_path, const std::string& remote_path, int mode) {
  std::string tmp;
  FAULTLINE_RETURN_IF_ERROR(SendFile(local_path, remote_path, mode, &tmp));
  // SFTP version 3 (OpenSSH) cannot rename over an existing file, and libssh does not
  // speak posix-rename@openssh.com; mv within one directory is a rename(2), atomic.
  ExecRequest req;
  req.argv = {"mv", "-f", "--", tmp, remote_path};
  ExecResult res;
  Status st = Exec(req, &res);
  if (st.ok() && res.exit_status != 0) {
    st = Status::Unavailable(target_.host_name + ": upload: cannot rename " + tmp + " to " +
                             remote_path + ": " + res.stderr_data);
  }
  if (!st.ok()) {
    ExecRequest rm;
    rm.argv = {"rm", "-f", "--", tmp};
    Exec(rm, &res);
  }
  return st;
}

std::optional<SshEndpoint> ParseSshEndpoint(const std::string& text, const SshEndpoint& fallback) {
  SshEndpoint ep = fallback;
  std::string rest = text;
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    ep.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (ep.user.empty()) return std::nullopt;
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    ep.address = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.find(':');
    if (colon != std::string::npos && rest.find(':', colon + 1) == std::string::npos) {
      ep.address = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    } else {
      ep.address = rest;
    }
  }
  if (ep.address.empty()) return std::nullopt;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return std::nullopt;
    ep.port = std::stoi(port);
    if (ep.port < 1 || ep.port > 65535) return std::nullopt;
  } else {
    ep.port = 22;
  }
  return ep;
}

Status SshTargetFromInventory(const InventoryHost& host, const TransportOptions& options,
                              SshTarget* out) {
  const std::string where = "host " + host.name + (host.mark.file.empty() ? "" : " (" + host.mark.ToString() + ")");
  for (const char* secret : {"ansible_password", "ansible_ssh_pass", "ansible_ssh_password"}) {
    if (host.vars.contains(secret)) {
      // The value is never repeated: it may be a real password.
      return Status::Invalid(where + ": " + secret + " is not accepted (passwords do not belong in "
                             "inventories); export it in an environment variable and name that "
                             "variable in faultline_ssh_password_env");
    }
  }
  SshTarget t;
  t.host_name = host.name;
  t.endpoint.address = host.address();
  t.endpoint.port = host.port();
  t.endpoint.user = host.user();
  t.key_file = host.key_file();
  t.password_env = host.VarString("faultline_ssh_password_env");
  t.accept_new_host_keys = options.accept_new_host_keys;
  t.connect_timeout = options.connect_timeout;
  if (t.endpoint.port < 1 || t.endpoint.port > 65535) {
    return Status::Invalid(where + ": ansible_port " + std::to_string(t.endpoint.port) + " is not a TCP port");
  }

  std::string jump = host.VarString("faultline_jump_host");
  std::string known_hosts_arg;
  std::vector<std::string> args = SplitArgs(host.VarString("ansible_ssh_common_args") + " " +
                                            host.VarString("ansible_ssh_extra_args"));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string opt;
    if (args[i] == "-J" && i + 1 < args.size()) {
      if (jump.empty()) jump = args[i + 1];
      ++i;
      continue;
    }
    if (args[i] == "-o" && i + 1 < args.size()) opt = args[++i];
    else if (args[i].rfind("-o", 0) == 0 && args[i].size() > 2) opt = args[i].substr(2);
    else continue;
    auto eq = opt.find_first_of("= ");
    std::string key = opt.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    if (key == "proxyjump") {
      if (jump.empty()) jump = value;
    } else if (key == "userknownhostsfile") {
      known_hosts_arg = value;
    } else if (key == "stricthostkeychecking") {
      if (value == "accept-new") t.accept_new_host_keys = true;
    } else if (key == "proxycommand") {
      return Status::Invalid(where + ": ansible_ssh_common_args uses ProxyCommand, which faultline does "
                             "not run; use -o ProxyJump=user@host:port or faultline_jump_host");
    }
  }
  if (!jump.empty() && jump != "none") {
    if (jump.find(',') != std::string::npos) {
      return Status::Invalid(where + ": jump host '" + jump + "' has several hops; one is supported");
    }
    SshEndpoint fallback;
    fallback.user = t.endpoint.user;
    auto ep = ParseSshEndpoint(jump, fallback);
    if (!ep) {
      return Status::Invalid(where + ": jump host '" + jump + "': expected user@host:port");
    }
    t.jump = *ep;
  }
  if (!options.known_hosts.empty()) t.known_hosts = options.known_hosts;
  else if (!host.VarString("faultline_ssh_known_hosts").empty()) t.known_hosts = host.VarString("faultline_ssh_known_hosts");
  else t.known_hosts = known_hosts_arg;
  *out = std::move(t);
  return Status::Ok();
}

void RegisterSshTransport() {
  RegisterTransportKind("ssh", [](const InventoryHost& host, const TransportOptions& options,
                                  std::unique_ptr<Transport>* out) {
    SshTarget target;
    FAULTLINE_RETURN_IF_ERROR(SshTargetFromInventory(host, options, &target));
    *out = std::make_unique<SshTransport>(std::move(target));
    return Status::Ok();
  });
}

Status ForEachHost(const std::vector<std::string>& hosts, int max_parallel,
                   const std::function<Status(const std::string& host)>& fn,
                   std::map<std::string, Status>* results) {
  std::vector<Status> statuses(hosts.size());
  size_t workers = hosts.size();
  if (max_parallel > 0) workers = std::min(workers, static_cast<size_t>(max_parallel));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < hosts.size();) statuses[i] = fn(hosts[i]);
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  if (workers > 0) work();
  for (auto& t : threads) t.join();

  Status first;
  int failed = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (results) (*results)[hosts[i]] = statuses[i];
    if (statuses[i].ok()) continue;
    if (failed++ > 0) continue;
    first = statuses[i];
    // Transport errors already start with the host; others get it here.
    if (first.message().rfind(hosts[i], 0) != 0) first = first.Annotate(hosts[i]);
  }
  if (failed > 1) {
    std::string more = " (and " + std::to_string(failed - 1) + " more host(s) failed)";
    return first.code() == Status::Code::kTimeout ? Status::Timeout(first.message() + more)
                                                  : Status::Unavailable(first.message() + more);
  }
  return first;
}

}  // namespace faultline

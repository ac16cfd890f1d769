#include "coord/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>

#include "coord/ensemble.h"
#include "coord/log.h"
#include "coord/wire.h"

namespace faultline::coord {

namespace {

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kStopTag = 2;
constexpr uint64_t kLogTag = 3;
constexpr uint64_t kTimerTag = 4;
constexpr uint64_t kEnsembleTag = 5;
constexpr uint64_t kAdminTag = 6;
constexpr int64_t kContainerCheckMs = 60000;

// Writes the tree into an open snapshot file a megabyte at a time.
Status WriteTree(const DataTree& tree, SnapshotWriter* file) {
  Status st = Status::Ok();
  tree.SerializeTo(1 << 20, [&](std::string_view piece) {
    st = file->Write(piece);
    return st.ok();
  });
  return st;
}

const char* OpName(int32_t type) {
  switch (type) {
    case op::kCreate: return "CREA";
    case op::kCreate2: return "CREA";
    case op::kCreateContainer: return "CREA";
    case op::kDelete: return "DELE";
    case op::kExists: return "EXIS";
    case op::kGetData: return "GETD";
    case op::kSetData: return "SETD";
    case op::kGetACL: return "GETA";
    case op::kSetACL: return "SETA";
    case op::kGetChildren: return "GETC";
    case op::kGetChildren2: return "GETC";
    case op::kSync: return "SYNC";
    case op::kPing: return "PING";
    case op::kMulti: return "MULT";
    case op::kCloseSession: return "CLOS";
    case op::kSetWatches: return "SETW";
    case op::kSetWatches2: return "SETW";
    case op::kCheckWatches: return "CHKW";
    case op::kRemoveWatches: return "REMW";
    case op::kAuth: return "AUTH";
    default: return "UNKN";
  }
}

// Starts a framed packet: a length placeholder the caller patches with FinishFrame.
JuteWriter BeginFrame(std::string* out) {
  JuteWriter w(out);
  w.Int(0);
  return w;
}

void FinishFrame(JuteWriter& w) { w.PatchInt(0, static_cast<int32_t>(w.size() - 4)); }

bool IsFourLetterWord(std::string_view w) {
  static const char* kWords[] = {"ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "crst", "srst",
                                 "dump", "wchs", "wchc", "wchp", "dirs", "isro", "gtmk", "stmk"};
  for (const char* k : kWords) {
    if (w == k) return true;
  }
  return false;
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)) {}

Server::~Server() {
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  ens_.reset();  // its node thread reads the tree under tree_mu_: stop it first
  for (auto& [id, c] : conns_) close(c->fd);
  for (auto& [id, a] : admin_conns_) close(a->fd);
  for (int fd : {listen_fd_, admin_fd_, stop_fd_, timer_fd_, epoll_fd_}) {
    if (fd >= 0) close(fd);
  }
}

int64_t Server::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t Server::WallMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t Server::NextSessionId() {
  int64_t id = next_session_id_++;
  return id;
}

std::string Server::PasswordFor(int64_t session) const {
  // ZooKeeper derives the password from the session id with java.util.Random seeded by
  // id ^ 0xB3415C00, so it survives restarts without being stored. Same generator here.
  uint64_t seed = (static_cast<uint64_t>(session) ^ 0xB3415C00ULL ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);
  auto next_int = [&seed]() {
    seed = (seed * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return static_cast<int32_t>(seed >> 16);
  };
  std::string out(kPasswordLength, '\0');
  for (int i = 0; i < kPasswordLength;) {
    int32_t rnd = next_int();
    for (int n = std::min(kPasswordLength - i, 4); n-- > 0; rnd >>= 8) out[static_cast<size_t>(i++)] = static_cast<char>(rnd);
  }
  return out;
}

Status Server::Start() {
  start_ms_ = NowMs();
  int64_t t0 = NowMs();
  log_dir_ = config_.data_dir + "/version-2";
  if (mkdir(config_.data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Unavailable(config_.data_dir + ": cannot create dataDir: " + strerror(errno));
  }
  Log(LogLevel::kInfo, "ZooKeeperServer@0",
      "Created server with tickTime {} ms minSessionTimeout {} ms maxSessionTimeout {} ms "
      "clientPortListenBacklog {} datadir {} snapdir {}",
      config_.tick_time, config_.MinSessionTimeout(), config_.MaxSessionTimeout(),
      config_.client_port_listen_backlog, log_dir_, log_dir_);
  ensemble_mode_ = config_.servers.size() >= 2;
  if (ensemble_mode_) {
    ens_ = std::make_unique<EnsembleBridge>(config_, &tree_, &tree_mu_);
    std::string snapshot;
    std::vector<std::string> warnings;
    if (mkdir(log_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Unavailable(log_dir_ + ": cannot create: " + strerror(errno));
    }
    auto t_rec = NowMs();
    FAULTLINE_RETURN_IF_ERROR(ens_->Open(log_dir_, &snapshot, &warnings));
    for (const auto& w : warnings) Log(LogLevel::kError, "FileTxnSnapLog@0", "{}", w);
    if (!snapshot.empty() && !tree_.Deserialize(snapshot)) {
      return Status::Internal(log_dir_ + ": the ensemble snapshot does not decode");
    }
    recovery_.snapshot_millis = NowMs() - t_rec;
    recovery_.snapshot_zxid = tree_.last_zxid();
    serving_ = false;
    role_ = static_cast<int>(zab::ServerState::kLooking);
  } else {
    FAULTLINE_RETURN_IF_ERROR(Recover(log_dir_, &tree_, &recovery_));
  }
  Log(LogLevel::kInfo, "ZKDatabase@0", "Snapshot loaded in {} ms, highest zxid is {}, {} transactions replayed",
      recovery_.snapshot_millis + recovery_.replay_millis, Hex(tree_.last_zxid()), recovery_.replayed);

  int64_t now = NowMs();
  for (const auto& [id, timeout] : tree_.sessions()) {
    sessions_[id] = SessionState{timeout, now + timeout, 0, false};
  }
  // As ZooKeeper: the top byte is the server id (1 when standalone), the next five bytes
  // come from the clock, so ids from different servers and different runs do not collide.
  uint64_t base = (static_cast<uint64_t>(WallMs()) << 24) >> 8;
  uint64_t sid = config_.servers.empty() ? 1 : static_cast<uint64_t>(config_.server_id);
  next_session_id_ = static_cast<int64_t>(base | (sid << 56));

  if (!ens_) {
    log_ = std::make_unique<TxnLogWriter>(log_dir_, config_.prealloc_bytes, config_.force_sync);
    FAULTLINE_RETURN_IF_ERROR(log_->Open(tree_.last_zxid() + 1));
  }
  // A snapshot at start-up only when there is none yet or the log was cut; otherwise the
  // replayed transactions count toward the next background snapshot, so a large tree does
  // not hold up serving.
  txns_since_snapshot_ = recovery_.replayed;
  if (!ens_ && (recovery_.snapshot_zxid < 0 || recovery_.log_cut)) {
    std::string path = fmt::format("{}/snapshot.{:x}", log_dir_, tree_.last_zxid());
    Log(LogLevel::kInfo, "FileTxnSnapLog@0", "Snapshotting: {} to {}", Hex(tree_.last_zxid()), path);
    SnapshotWriter file(log_dir_, tree_.last_zxid());
    Status st = file.Open();
    if (st.ok()) st = WriteTree(tree_, &file);
    if (st.ok()) st = file.Commit();
    if (!st.ok()) return st.Annotate("startup snapshot");
    PurgeOldFiles(log_dir_, config_.snap_retain_count);
    txns_since_snapshot_ = 0;
  }
  malloc_trim(0);  // recovery's file buffers are gone; give their pages back
  std::mt19937 rng(static_cast<uint32_t>(WallMs()));
  snapshot_threshold_ = config_.snap_count / 2 + static_cast<int64_t>(rng() % static_cast<uint32_t>(config_.snap_count / 2 + 1));

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(config_.client_port));
  std::string host = config_.client_port_address.empty() ? "0.0.0.0" : config_.client_port_address;
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::Invalid(fmt::format("{}: clientPortAddress '{}' is not an IPv4 address", config_.path, host));
  }
  Log(LogLevel::kInfo, "NIOServerCnxnFactory@0", "binding to port {}/{}:{}",
      config_.client_port_address.empty() ? "0.0.0.0" : "", host, config_.client_port);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Unavailable(fmt::format("cannot bind {}:{}: {}", host, config_.client_port, strerror(errno)));
  }
  int backlog = config_.client_port_listen_backlog > 0 ? config_.client_port_listen_backlog : 128;
  if (listen(listen_fd_, backlog) != 0) return Status::Unavailable(std::string("listen: ") + strerror(errno));
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int tick = std::clamp(config_.tick_time / 4, 10, 100);
  itimerspec its{};
  its.it_interval.tv_nsec = static_cast<long>(tick) * 1000000L;
  its.it_value = its.it_interval;
  timerfd_settime(timer_fd_, 0, &its, nullptr);
  auto add = [&](int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  };
  add(listen_fd_, kListenTag);
  add(stop_fd_, kStopTag);
  if (log_) add(log_->notify_fd(), kLogTag);
  if (ens_) add(ens_->notify_fd(), kEnsembleTag);
  add(timer_fd_, kTimerTag);
  if (config_.admin_enabled) {
    Status st = StartAdmin();
    if (!st.ok()) {
      // As ZooKeeper: a standalone server exits ("Unable to start AdminServer, exiting
      // abnormally"); an ensemble member logs the problem and serves on without it.
      if (!ensemble_mode_) return st.Annotate("AdminServer");
      Log(LogLevel::kWarn, "QuorumPeer@0", "Problem starting AdminServer: {}", st.message());
    } else {
      add(admin_fd_, kAdminTag);
    }
  }
  startup_ms_ = NowMs() - t0;
  for (const auto& w : config_.warnings) Log(LogLevel::kWarn, "QuorumPeerConfig@0", "{}", w);
  if (ens_) {
    Status st = ens_->Start();
    if (!st.ok()) return st.Annotate("quorum port");
    Log(LogLevel::kInfo, "QuorumPeerMain@0", "quorumd started in {} ms as server {} of {} ({} voting), clients on port {}",
        startup_ms_, config_.server_id, config_.servers.size(), ens_->peer_config().voters.size(), port_);
    return Status::Ok();
  }
  Log(LogLevel::kInfo, "ZooKeeperServerMain@0", "quorumd started in {} ms, serving clients on port {}", startup_ms_, port_);
  return Status::Ok();
}

void Server::RequestStop() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
}

Status Server::Run() {
  epoll_event events[256];
  int64_t last_container_check = NowMs();
  bool stopping = false;
  std::unique_lock<std::mutex> tree_lock(tree_mu_, std::defer_lock);
  while (!stopping && fatal_.ok()) {
    int n = epoll_wait(epoll_fd_, events, 256, -1);
    if (n < 0 && errno != EINTR) return Status::Internal(std::string("epoll_wait: ") + strerror(errno));
    tree_lock.lock();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kEnsembleTag) {
        OnEnsemble();
      } else if (tag == kListenTag) {
        Accept();
      } else if (tag == kAdminTag) {
        AdminAccept();
      } else if (tag == kStopTag) {
        stopping = true;
      } else if (tag == kLogTag) {
        log_->DrainNotify();
        if (log_->failed()) {
          fatal_ = Status::Unavailable("fdatasync of the transaction log failed; stopping without acknowledging");
          break;
        }
        std::vector<uint64_t> ids(holding_.begin(), holding_.end());
        for (uint64_t id : ids) {
          auto it = conns_.find(id);
          if (it != conns_.end()) Release(it->second.get());
        }
      } else if (tag == kTimerTag) {
        uint64_t v;
        (void)!read(timer_fd_, &v, sizeof v);
        Tick();
        if (NowMs() - last_container_check >= kContainerCheckMs && (!ensemble_mode_ || Leading())) {
          last_container_check = NowMs();
          for (const auto& path : tree_.EmptyContainers()) {
            std::string body;
            JuteWriter w(&body);
            WritePathVersion(w, PathVersion{path, -1});
            Submit(nullptr, 0, op::kDeleteContainer, 0, body);
          }
        }
      } else if (admin_conns_.count(tag)) {
        OnAdmin(tag, events[i].events);
      } else {
        auto it = conns_.find(tag);
        if (it == conns_.end()) continue;
        Connection* c = it->second.get();
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(c);
        if (!c->dead && (events[i].events & EPOLLOUT)) OnWritable(c);
      }
    }
    Status st = log_ ? log_->Flush() : Status::Ok();
    if (!st.ok()) {
      Log(LogLevel::kError, "SyncRequestProcessor@0", "Severe unrecoverable error, exiting: {}", st.message());
      fatal_ = st;
    }
    Status storage_error = ens_ ? ens_->storage_error() : Status::Ok();
    MaybeSnapshot();
    if (!holding_.empty() && log_ && log_->durable_zxid() >= log_->written_zxid()) {
      std::vector<uint64_t> ids(holding_.begin(), holding_.end());
      for (uint64_t id : ids) {
        auto it = conns_.find(id);
        if (it != conns_.end()) Release(it->second.get());
      }
    }
    for (auto& [id, c] : conns_) {
      if (!c->dead && c->want_write) OnWritable(c.get());
    }
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->second->dead) {
        holding_.erase(it->first);
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
    tree_lock.unlock();
    // Leaving and rejoining stop and start the node's thread, which may be waiting for the
    // tree's lock: only ever done here, with the lock released.
    if (!storage_error.ok()) LeaveEnsemble(storage_error);
    if (ensemble_mode_ && !ens_ && NowMs() >= rejoin_at_ms_) RejoinEnsemble();
  }
  if (log_) log_->Flush();
  if (ens_) ens_->Stop();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (!fatal_.ok()) return fatal_;
  Log(LogLevel::kInfo, "ZooKeeperServer@0", "shutting down");
  return Status::Ok();
}

void Server::Accept() {
  for (;;) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    if (config_.max_client_cnxns > 0) {
      int from_ip = 0;
      for (const auto& [id, c] : conns_) from_ip += (!c->dead && c->remote_ip == ip) ? 1 : 0;
      if (from_ip >= config_.max_client_cnxns) {
        Log(LogLevel::kWarn, "NIOServerCnxnFactory@0", "Too many connections from /{} - max is {}", ip,
            config_.max_client_cnxns);
        connection_rejected_++;
        close(fd);
        continue;
      }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>();
    c->id = next_conn_id_++;
    c->fd = fd;
    c->remote_ip = ip;
    c->remote = fmt::format("/{}:{}", ip, ntohs(addr.sin_port));
    c->established_ms = WallMs();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_[c->id] = std::move(c);
  }
}

void Server::OnReadable(Connection* c) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n > 0) {
      c->in.append(buf, static_cast<size_t>(n));
      bytes_received_ += n;
      if (static_cast<size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n == 0) {
      if (c->session != 0) {
        Log(LogLevel::kInfo, "NIOServerCnxn@0",
            "Unable to read additional data from client, it probably closed the socket: address = {}, session = {}",
            c->remote, Hex(c->session));
      }
      Close(c, nullptr);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Close(c, strerror(errno));
    return;
  }
  size_t off = 0;
  while (!c->dead && !c->close_after_flush) {
    if (c->in.size() - off < 4) break;
    if (c->first_packet && IsFourLetterWord(std::string_view(c->in).substr(off, kFourLetterLength))) {
      HandleFourLetter(c, c->in.substr(off, kFourLetterLength));
      c->in.clear();
      return;
    }
    JuteReader hr(std::string_view(c->in).substr(off, 4));
    int32_t len = hr.Int();
    if (len < 0 || len > kDefaultMaxBuffer + 1024) {
      Log(LogLevel::kWarn, "NIOServerCnxn@0", "Close of session {}: Len error {} from client {}",
          Hex(c->session), len, c->remote);
      Close(c, nullptr);
      return;
    }
    if (c->in.size() - off < 4 + static_cast<size_t>(len)) break;
    std::string_view packet = std::string_view(c->in).substr(off + 4, static_cast<size_t>(len));
    c->first_packet = false;
    if (!HandlePacket(c, packet)) {
      Close(c, nullptr);
      return;
    }
    off += 4 + static_cast<size_t>(len);
  }
  if (!c->dead) c->in.erase(0, off);
}

void Server::OnWritable(Connection* c) {
  while (c->out_off < c->out.size()) {
    ssize_t n = send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close(c, n < 0 ? strerror(errno) : nullptr);
    return;
  }
  bool pending = c->out_off < c->out.size();
  if (!pending) {
    c->out.clear();
    c->out_off = 0;
  }
  // Writing is tried at once; only a send cut short asks epoll for EPOLLOUT, and the
  // interest is dropped again once drained: no epoll_ctl for a reply that fits the socket.
  if (pending != c->epoll_out) {
    epoll_event ev{};
    ev.events = pending ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_out = pending;
  }
  c->want_write = pending;
  if (!pending && c->held.empty() && c->close_after_flush) Close(c, nullptr);
}

void Server::Close(Connection* c, const char* why) {
  if (c->dead) return;
  if (why) {
    Log(LogLevel::kWarn, "NIOServerCnxn@0", "Close of session {} for client {}: {}", Hex(c->session), c->remote, why);
  }
  c->dead = true;
  RemoveWatches(c);
  auto it = sessions_.find(c->session);
  if (it != sessions_.end() && it->second.conn == c->id) it->second.conn = 0;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  c->fd = -1;
  outstanding_ -= c->outstanding;
}

int64_t Server::DurableZxid() const {
  // In an ensemble a txn reaches the tree only once a quorum made it durable.
  return log_ ? log_->durable_zxid() : INT64_MAX;
}

void Server::Queue(Connection* c, std::string bytes, int64_t tag) {
  if (c->dead) return;
  if (c->held.empty() && tag <= DurableZxid()) {
    c->out += bytes;
    c->sent++;
    packets_sent_++;
    c->want_write = true;
    return;
  }
  c->held.push_back(Connection::Held{tag, std::move(bytes), -1, 0});
  holding_.insert(c->id);
}

// Puts bytes just before the placeholder of request `seq` (a watch event its own write
// fired goes out before its reply, as in ZooKeeper), or at the end when there is none.
void Server::QueueBefore(Connection* c, uint64_t seq, std::string bytes, int64_t tag) {
  if (c->dead) return;
  for (auto it = c->held.begin(); seq != 0 && it != c->held.end(); ++it) {
    if (it->seq == seq) {
      c->held.insert(it, Connection::Held{tag, std::move(bytes), -1, 0});
      holding_.insert(c->id);
      return;
    }
  }
  Queue(c, std::move(bytes), tag);
}

void Server::Release(Connection* c) {
  int64_t durable = DurableZxid();
  int64_t now = NowMs();
  while (!c->held.empty() && c->held.front().seq == 0 && c->held.front().tag <= durable) {
    Connection::Held& h = c->held.front();
    if (h.received_ms >= 0) {
      int64_t lat = now - h.received_ms;
      c->last_latency = lat;
      c->min_latency = c->min_latency < 0 ? lat : std::min(c->min_latency, lat);
      c->max_latency = std::max(c->max_latency, lat);
      c->total_latency += lat;
      c->latency_count++;
      min_latency_ = min_latency_ < 0 ? lat : std::min(min_latency_, lat);
      max_latency_ = std::max(max_latency_, lat);
      total_latency_ += lat;
      latency_count_++;
      c->outstanding--;
      outstanding_--;
    }
    c->out += h.bytes;
    c->sent++;
    packets_sent_++;
    c->held.pop_front();
    c->want_write = true;
  }
  if (c->held.empty()) holding_.erase(c->id);
}

std::string Server::Frame(int32_t xid, int64_t zxid, int32_t err, std::string_view body) {
  std::string bytes;
  JuteWriter w = BeginFrame(&bytes);
  w.Int(xid);
  w.Long(zxid);
  w.Int(err);
  if (err == err::kOk || !body.empty()) w.Raw(body);
  FinishFrame(w);
  last_response_size_ = static_cast<int64_t>(bytes.size());
  min_response_size_ = min_response_size_ < 0 ? last_response_size_ : std::min(min_response_size_, last_response_size_);
  max_response_size_ = std::max(max_response_size_, last_response_size_);
  return bytes;
}

void Server::Reply(Connection* c, int32_t xid, int64_t zxid, int32_t err, std::string_view body, int64_t tag) {
  if (c == nullptr || c->dead) return;
  std::string bytes = Frame(xid, zxid, err, body);
  c->last_zxid = zxid;
  c->last_response_ms = WallMs();
  if (xid == xid::kPing || xid == xid::kAuth || xid == xid::kSetWatches) {
    Queue(c, std::move(bytes), tag);
    return;
  }
  // A request reply: counted for latency when it leaves.
  int64_t received = NowMs();
  c->outstanding++;
  outstanding_++;
  c->held.push_back(Connection::Held{tag, std::move(bytes), received, 0});
  if (c->held.size() == 1 && tag <= DurableZxid()) {
    Release(c);
  } else {
    holding_.insert(c->id);
  }
}

void Server::TouchSession(Connection* c) {
  auto it = sessions_.find(c->session);
  if (it != sessions_.end()) it->second.expire_at_ms = NowMs() + it->second.timeout;
  if (ensemble_mode_ && c->session != 0) touched_.insert(c->session);
}

bool Server::HandlePacket(Connection* c, std::string_view packet) {
  c->received++;
  packets_received_++;
  if (!c->connected) return HandleConnect(c, packet);
  return HandleRequest(c, packet);
}

bool Server::HandleConnect(Connection* c, std::string_view packet) {
  JuteReader r(packet);
  r.Int();  // protocol version
  int64_t last_zxid_seen = r.Long();
  int32_t timeout = r.Int();
  int64_t session = r.Long();
  std::string passwd = r.Buffer();
  if (r.ok() && r.remaining() >= 1) r.Bool();  // readOnly: quorumd is never read-only
  if (!r.ok()) {
    unsuccessful_handshakes_++;
    Log(LogLevel::kWarn, "NIOServerCnxn@0", "Unsuccessful handshake from client {}: malformed ConnectRequest", c->remote);
    return false;
  }
  if (ensemble_mode_ && !serving_) {
    Log(LogLevel::kInfo, "NIOServerCnxn@0", "Closing connection from {}: this server is not serving requests ({})",
        c->remote, ModeName());
    return false;
  }
  if (last_zxid_seen > tree_.last_zxid()) {
    Log(LogLevel::kInfo, "ZooKeeperServer@0",
        "Refusing session request for client {} as it has seen zxid {} our last zxid is {} client must try another server",
        c->remote, Hex(last_zxid_seen), Hex(tree_.last_zxid()));
    return false;
  }
  connection_requests_++;
  int32_t negotiated = std::clamp(timeout, config_.MinSessionTimeout(), config_.MaxSessionTimeout());
  if (session == 0) {
    Log(LogLevel::kInfo, "ZooKeeperServer@0", "Client attempting to establish new session at {}", c->remote);
    int64_t id = NextSessionId();
    std::string body;
    JuteWriter w(&body);
    w.Int(negotiated);
    if (ensemble_mode_) {
      // The session exists once the quorum has committed it; the reply waits for that.
      uint64_t seq = ++next_seq_;
      pending_[seq] = Pending{c->id, 0, true, negotiated};
      ens_->Propose(seq, Txn{0, id, WallMs(), op::kCreateSession, body});
      return true;
    }
    Txn txn{tree_.last_zxid() + 1, id, WallMs(), op::kCreateSession, body};
    Status st = log_->Append(txn);
    if (!st.ok()) {
      WriteFailed(st);
      return false;
    }
    if (disk_full_) {
      disk_full_ = false;
      Log(LogLevel::kInfo, "SyncRequestProcessor@0", "Transaction log in {} is writable again; writes resumed", log_dir_);
    }
    ApplyCommitted(txn, nullptr, 0);
    sessions_[id] = SessionState{negotiated, NowMs() + negotiated, c->id, false};
    c->session = id;
    c->timeout = negotiated;
    c->connected = true;
    SendConnectResponse(c, negotiated, id, txn.zxid);
    Log(LogLevel::kInfo, "ZooKeeperServer@0", "Established session {} with negotiated timeout {} for client {}",
        Hex(id), negotiated, c->remote);
    return true;
  }
  Log(LogLevel::kInfo, "ZooKeeperServer@0", "Client attempting to renew session {} at {}", Hex(session), c->remote);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.closing || passwd != PasswordFor(session)) {
    Log(LogLevel::kInfo, "ZooKeeperServer@0", "Invalid session {} for client {}, probably expired", Hex(session),
        c->remote);
    SendConnectResponse(c, 0, 0, 0);
    c->close_after_flush = true;
    return true;
  }
  if (it->second.conn != 0 && it->second.conn != c->id) {
    auto old = conns_.find(it->second.conn);
    if (old != conns_.end() && !old->second->dead) {
      Log(LogLevel::kInfo, "NIOServerCnxn@0", "Closing the connection of session {} from {}: the session moved to {}",
          Hex(session), old->second->remote, c->remote);
      Close(old->second.get(), nullptr);
    }
  }
  it->second.conn = c->id;
  it->second.expire_at_ms = NowMs() + it->second.timeout;
  c->session = session;
  c->timeout = negotiated;
  c->connected = true;
  SendConnectResponse(c, negotiated, session, tree_.last_zxid());
  Log(LogLevel::kInfo, "ZooKeeperServer@0", "Established session {} with negotiated timeout {} for client {}",
      Hex(session), negotiated, c->remote);
  return true;
}

void Server::SendConnectResponse(Connection* c, int32_t timeout, int64_t session, int64_t tag) {
  std::string bytes;
  JuteWriter w = BeginFrame(&bytes);
  w.Int(0);
  w.Int(timeout);
  w.Long(session);
  w.Buffer(session == 0 ? std::string(kPasswordLength, '\0') : PasswordFor(session));
  w.Bool(false);
  FinishFrame(w);
  Queue(c, std::move(bytes), tag);
}

std::vector<AuthId> Server::IdsOf(Connection* c) const {
  std::vector<AuthId> ids;
  ids.push_back(AuthId{"ip", c->remote_ip});
  ids.insert(ids.end(), c->auth.begin(), c->auth.end());
  return ids;
}

bool Server::Allowed(Connection* c, const Node& node, int32_t perm) const {
  return AclAllows(tree_.AclOf(node), perm, IdsOf(c));
}

bool Server::HandleRequest(Connection* c, std::string_view packet) {
  JuteReader r(packet);
  int32_t xid = r.Int();
  int32_t type = r.Int();
  if (!r.ok()) return false;
  TouchSession(c);
  c->last_op = OpName(type);
  if (xid >= 0) c->last_cxid = xid;
  switch (type) {
    case op::kPing:
      Reply(c, xid::kPing, tree_.last_zxid(), err::kOk, {}, 0);
      return true;
    case op::kAuth: {
      r.Int();  // auth type, always 0
      std::string scheme = r.String();
      std::string auth = r.Buffer();
      if (!r.ok()) return false;
      if (scheme == "digest" && auth.find(':') != std::string::npos) {
        AuthId id{"digest", DigestId(auth)};
        bool have = false;
        for (const auto& a : c->auth) have = have || (a.scheme == id.scheme && a.id == id.id);
        if (!have) c->auth.push_back(id);
        Reply(c, xid::kAuth, tree_.last_zxid(), err::kOk, {}, 0);
        return true;
      }
      auth_failed_++;
      Log(LogLevel::kWarn, "ZooKeeperServer@0", "Authentication failed for scheme: {}", scheme);
      Reply(c, xid::kAuth, tree_.last_zxid(), err::kAuthFailed, {}, 0);
      c->close_after_flush = true;
      return true;
    }
    case op::kSetWatches:
    case op::kSetWatches2:
      HandleSetWatches(c, r, type == op::kSetWatches2);
      return r.ok();
    case op::kCloseSession: {
      bool ok = Submit(c, xid, op::kCloseSession, c->session, "");
      if (ok) c->close_after_flush = true;
      return true;
    }
    case op::kSasl:
    case op::kAddWatch:
    case op::kMultiRead:
    case op::kReconfig:
      Reply(c, xid, tree_.last_zxid(), type == op::kReconfig ? err::kReconfigDisabled : err::kUnimplemented, {},
            tree_.last_zxid());
      return true;
    default:
      break;
  }
  if (IsWriteOp(type) && type != op::kCreateSession && type != op::kError) {
    return HandleWrite(c, xid, type, r.Rest());
  }
  HandleRead(c, xid, type, r);
  return r.ok();
}

void Server::HandleRead(Connection* c, int32_t xid, int32_t type, JuteReader& r) {
  int64_t zxid = tree_.last_zxid();
  std::string body;
  JuteWriter w(&body);
  auto reply = [&](int32_t err) { Reply(c, xid, zxid, err, err == err::kOk ? std::string_view(body) : "", zxid); };
  switch (type) {
    case op::kExists:
    case op::kGetData:
    case op::kGetChildren:
    case op::kGetChildren2: {
      std::string path = r.String();
      bool watch = r.Bool();
      if (!r.ok()) return;
      if (!DataTree::ValidPath(path)) return reply(err::kBadArguments);
      const Node* node = tree_.Find(path);
      if (type == op::kExists) {
        if (watch) {
          data_watches_[path].insert(c->id);
          c->data_watches.insert(path);
        }
        if (!node) return reply(err::kNoNode);
        WriteStat(w, VisibleStat(*node));
        return reply(err::kOk);
      }
      if (!node) return reply(err::kNoNode);
      if (!Allowed(c, *node, perm::kRead)) return reply(err::kNoAuth);
      if (type == op::kGetData) {
        if (watch) {
          data_watches_[path].insert(c->id);
          c->data_watches.insert(path);
        }
        w.Buffer(node->data());
        WriteStat(w, VisibleStat(*node));
      } else {
        if (watch) {
          child_watches_[path].insert(c->id);
          c->child_watches.insert(path);
        }
        std::vector<std::string_view> children = node->children();
        w.Int(static_cast<int32_t>(children.size()));
        for (std::string_view child : children) w.String(child);
        if (type == op::kGetChildren2) WriteStat(w, VisibleStat(*node));
      }
      return reply(err::kOk);
    }
    case op::kGetACL: {
      std::string path = r.String();
      if (!r.ok()) return;
      if (!DataTree::ValidPath(path)) return reply(err::kBadArguments);
      const Node* node = tree_.Find(path);
      if (!node) return reply(err::kNoNode);
      if (!Allowed(c, *node, perm::kRead | perm::kAdmin)) return reply(err::kNoAuth);
      WriteAcls(w, tree_.AclOf(*node));
      WriteStat(w, VisibleStat(*node));
      return reply(err::kOk);
    }
    case op::kSync: {
      std::string path = r.String();
      if (!r.ok()) return;
      if (ensemble_mode_ && ens_ && serving_) {
        // As ZooKeeper's: through the leader, so that what this server answers afterwards
        // includes everything the leader had when the sync reached it. The place is held
        // so that later requests on the connection wait behind it.
        uint64_t seq = ++next_seq_;
        Pending p;
        p.conn = c->id;
        p.xid = xid;
        p.path = std::move(path);
        pending_[seq] = std::move(p);
        HoldPlace(c, seq);
        ens_->Sync(seq);
        return;
      }
      w.String(path);
      return reply(err::kOk);
    }
    case op::kCheckWatches:
    case op::kRemoveWatches: {
      std::string path = r.String();
      int32_t wtype = r.Int();
      if (!r.ok()) return;
      bool want_data = wtype == watcher_type::kData || wtype == watcher_type::kAny;
      bool want_child = wtype == watcher_type::kChildren || wtype == watcher_type::kAny;
      bool has_data = want_data && c->data_watches.count(path) != 0;
      bool has_child = want_child && c->child_watches.count(path) != 0;
      if (!has_data && !has_child) return reply(err::kNoWatcher);
      if (type == op::kRemoveWatches) {
        if (has_data) {
          c->data_watches.erase(path);
          auto it = data_watches_.find(path);
          if (it != data_watches_.end() && (it->second.erase(c->id), it->second.empty())) data_watches_.erase(it);
        }
        if (has_child) {
          c->child_watches.erase(path);
          auto it = child_watches_.find(path);
          if (it != child_watches_.end() && (it->second.erase(c->id), it->second.empty())) child_watches_.erase(it);
        }
      }
      return reply(err::kOk);
    }
    case op::kGetEphemerals: {
      std::string prefix = r.String();
      if (!r.ok()) return;
      std::vector<std::string> out;
      auto it = tree_.ephemerals().find(c->session);
      if (it != tree_.ephemerals().end()) {
        for (const auto& p : it->second) {
          if (prefix == "/" || p.rfind(prefix, 0) == 0) out.push_back(p);
        }
      }
      w.StringVector(out);
      return reply(err::kOk);
    }
    case op::kGetAllChildrenNumber: {
      std::string path = r.String();
      if (!r.ok()) return;
      const Node* node = tree_.Find(path);
      if (!node) return reply(err::kNoNode);
      int32_t count = 0;
      std::vector<const Node*> stack = {node};
      while (!stack.empty()) {
        const Node* n = stack.back();
        stack.pop_back();
        n->ForEachChild([&](const Node& child) {
          ++count;
          stack.push_back(&child);
        });
      }
      w.Int(count);
      return reply(err::kOk);
    }
    case op::kWhoAmI: {
      std::vector<AuthId> ids = IdsOf(c);
      w.Int(static_cast<int32_t>(ids.size()));
      for (const auto& id : ids) {
        w.String(id.scheme);
        w.String(id.id);
      }
      return reply(err::kOk);
    }
    default:
      Log(LogLevel::kWarn, "FinalRequestProcessor@0", "Unknown request type {} from client {}", type, c->remote);
      return reply(err::kUnimplemented);
  }
}

void Server::HandleSetWatches(Connection* c, JuteReader& r, bool v2) {
  int64_t rel = r.Long();
  std::vector<std::string> data = r.StringVector();
  std::vector<std::string> exist = r.StringVector();
  std::vector<std::string> child = r.StringVector();
  if (v2) {
    r.StringVector();  // persistent watches: not supported, dropped
    r.StringVector();
  }
  if (!r.ok()) return;
  int64_t zxid = tree_.last_zxid();
  auto notify = [&](int32_t type, const std::string& path) {
    std::string bytes;
    JuteWriter w = BeginFrame(&bytes);
    w.Int(xid::kWatchEvent);
    w.Long(-1);
    w.Int(err::kOk);
    w.Int(type);
    w.Int(event::kStateSyncConnected);
    w.String(path);
    FinishFrame(w);
    Queue(c, std::move(bytes), zxid);
  };
  // As ZooKeeper's DataTree.setWatches: anything that changed after the client's last
  // zxid fires at once; the rest is registered.
  for (const auto& path : data) {
    const Node* node = tree_.Find(path);
    if (!node) {
      notify(event::kNodeDeleted, path);
    } else if (node->stat().mzxid > rel) {
      notify(event::kNodeDataChanged, path);
    } else {
      data_watches_[path].insert(c->id);
      c->data_watches.insert(path);
    }
  }
  for (const auto& path : exist) {
    if (tree_.Find(path)) {
      notify(event::kNodeCreated, path);
    } else {
      data_watches_[path].insert(c->id);
      c->data_watches.insert(path);
    }
  }
  for (const auto& path : child) {
    const Node* node = tree_.Find(path);
    if (!node) {
      notify(event::kNodeDeleted, path);
    } else if (node->stat().pzxid > rel) {
      notify(event::kNodeChildrenChanged, path);
    } else {
      child_watches_[path].insert(c->id);
      c->child_watches.insert(path);
    }
  }
  Reply(c, xid::kSetWatches, zxid, err::kOk, {}, zxid);
}

int32_t Server::PrepCreate(Connection* c, CreateRequest* req) {
  bool sequential = req->flags == create_mode::kPersistentSequential ||
                    req->flags == create_mode::kEphemeralSequential ||
                    req->flags == create_mode::kPersistentSequentialWithTtl;
  std::string checked = sequential ? req->path + "1" : req->path;
  if (!DataTree::ValidPath(checked) || checked == "/") return err::kBadArguments;
  int32_t rc = FixupAcl(&req->acl, IdsOf(c));
  if (rc != err::kOk) return rc;
  const Node* parent = tree_.Find(DataTree::Parent(checked));
  if (parent && !Allowed(c, *parent, perm::kCreate)) return err::kNoAuth;
  return err::kOk;
}

int32_t Server::Prep(Connection* c, int32_t type, std::string_view body, std::string* txn_body) {
  JuteReader r(body);
  JuteWriter w(txn_body);
  switch (type) {
    case op::kCreate:
    case op::kCreate2:
    case op::kCreateContainer:
    case op::kCreateTTL: {
      CreateRequest req = ReadCreate(r, type == op::kCreateTTL);
      if (!r.ok()) return err::kMarshallingError;
      int32_t rc = PrepCreate(c, &req);
      if (rc != err::kOk) return rc;
      WriteCreate(w, req, type == op::kCreateTTL);
      return err::kOk;
    }
    case op::kDelete: {
      PathVersion req = ReadPathVersion(r);
      if (!r.ok()) return err::kMarshallingError;
      if (!DataTree::ValidPath(req.path)) return err::kBadArguments;
      const Node* parent = tree_.Find(DataTree::Parent(req.path));
      if (parent && tree_.Find(req.path) && !Allowed(c, *parent, perm::kDelete)) return err::kNoAuth;
      WritePathVersion(w, req);
      return err::kOk;
    }
    case op::kSetData: {
      SetDataRequest req = ReadSetData(r);
      if (!r.ok()) return err::kMarshallingError;
      if (!DataTree::ValidPath(req.path)) return err::kBadArguments;
      const Node* node = tree_.Find(req.path);
      if (node && !Allowed(c, *node, perm::kWrite)) return err::kNoAuth;
      WriteSetData(w, req);
      return err::kOk;
    }
    case op::kSetACL: {
      SetAclRequest req = ReadSetAcl(r);
      if (!r.ok()) return err::kMarshallingError;
      if (!DataTree::ValidPath(req.path)) return err::kBadArguments;
      const Node* node = tree_.Find(req.path);
      if (node && !Allowed(c, *node, perm::kAdmin)) return err::kNoAuth;
      int32_t rc = FixupAcl(&req.acl, IdsOf(c));
      if (rc != err::kOk) return rc;
      WriteSetAcl(w, req);
      return err::kOk;
    }
    case op::kMulti: {
      std::vector<MultiOp> ops;
      if (!ReadMulti(r, &ops)) return err::kMarshallingError;
      for (auto& op : ops) {
        int32_t rc = err::kOk;
        switch (op.type) {
          case op::kCreate:
          case op::kCreate2:
          case op::kCreateContainer:
          case op::kCreateTTL:
            rc = PrepCreate(c, &op.create);
            break;
          case op::kDelete: {
            const Node* parent = tree_.Find(DataTree::Parent(op.path_version.path));
            if (parent && tree_.Find(op.path_version.path) && !Allowed(c, *parent, perm::kDelete)) rc = err::kNoAuth;
            break;
          }
          case op::kSetData: {
            const Node* node = tree_.Find(op.set_data.path);
            if (node && !Allowed(c, *node, perm::kWrite)) rc = err::kNoAuth;
            break;
          }
          case op::kCheck: {
            const Node* node = tree_.Find(op.path_version.path);
            if (node && !Allowed(c, *node, perm::kRead)) rc = err::kNoAuth;
            break;
          }
          default:
            rc = err::kUnimplemented;
        }
        if (rc != err::kOk) {
          op.type = op::kError;
          op.err = rc;
        }
      }
      WriteMulti(w, ops);
      return err::kOk;
    }
    default:
      return err::kUnimplemented;
  }
}

bool Server::HandleWrite(Connection* c, int32_t xid, int32_t type, std::string_view body) {
  std::string txn_body;
  int32_t rc = Prep(c, type, body, &txn_body);
  if (rc == err::kMarshallingError) {
    Log(LogLevel::kWarn, "PrepRequestProcessor@0", "Malformed {} request from client {} (session {}); closing",
        OpName(type), c->remote, Hex(c->session));
    return false;
  }
  if (rc != err::kOk) {
    txn_body.clear();
    JuteWriter w(&txn_body);
    w.Int(rc);
    type = op::kError;
  }
  Submit(c, xid, type, c->session, std::move(txn_body));
  return true;
}

void Server::WriteFailed(const Status& st) {
  if (!disk_full_) {
    Log(LogLevel::kError, "SyncRequestProcessor@0",
        "Unable to write to the transaction log in {}: {}. Write requests fail until space returns; reads continue",
        log_dir_, st.message());
  }
  disk_full_ = true;
}

bool Server::Submit(Connection* c, int32_t xid, int32_t type, int64_t session, std::string body) {
  if (ensemble_mode_) {
    if (!serving_) {
      if (c) Reply(c, xid, tree_.last_zxid(), err::kConnectionLoss, {}, tree_.last_zxid());
      return false;
    }
    uint64_t seq = ++next_seq_;
    pending_[seq] = Pending{c ? c->id : 0, xid, false, 0};
    if (c && !c->dead) HoldPlace(c, seq);
    ens_->Propose(seq, Txn{0, session, WallMs(), type, std::move(body)});
    return true;
  }
  Txn txn{tree_.last_zxid() + 1, session, WallMs(), type, std::move(body)};
  Status st = log_->Append(txn);
  if (!st.ok()) {
    WriteFailed(st);
    Reply(c, xid, tree_.last_zxid(), err::kSystemError, {}, tree_.last_zxid());
    return false;
  }
  if (disk_full_) {
    disk_full_ = false;
    Log(LogLevel::kInfo, "SyncRequestProcessor@0", "Transaction log in {} is writable again; writes resumed", log_dir_);
  }
  ApplyCommitted(txn, c, xid);
  return true;
}

void Server::ApplyCommitted(const Txn& txn, Connection* origin, int32_t xid, uint64_t seq) {
  ApplyResult res = tree_.Apply(txn);
  txns_since_snapshot_++;
  txns_logged_++;
  if (seq != 0 && origin) {
    // Watch events this write fires on its own connection go just before its reply.
    pending_watch_origin_ = origin;
    pending_watch_seq_ = seq;
    FireWatches(res.events, txn.zxid);
    pending_watch_origin_ = nullptr;
    pending_watch_seq_ = 0;
  } else {
    FireWatches(res.events, txn.zxid);
  }
  if (txn.type == op::kCreateSession && sessions_.find(txn.session_id) == sessions_.end()) {
    JuteReader r(txn.body);
    int32_t timeout = r.Int();
    if (r.ok()) sessions_[txn.session_id] = SessionState{timeout, NowMs() + timeout, 0, false};
  }
  if (txn.type == op::kCloseSession) {
    auto it = sessions_.find(txn.session_id);
    if (it != sessions_.end()) {
      auto cit = conns_.find(it->second.conn);
      if (cit != conns_.end() && cit->second.get() != origin) {
        cit->second->close_after_flush = true;
        cit->second->want_write = true;
      }
      sessions_.erase(it);
    }
    Log(LogLevel::kInfo, "PrepRequestProcessor@0", "Processed session termination for sessionid: {}", Hex(txn.session_id));
  }
  if (origin && seq != 0) {
    FillPlace(origin, seq, xid, txn.zxid, res.err, res.response);
    return;
  }
  if (origin) Reply(origin, xid, txn.zxid, res.err, res.response, txn.zxid);
}

void Server::FireWatches(const std::vector<WatchEvent>& events, int64_t zxid) {
  for (const auto& e : events) {
    std::set<uint64_t> targets;
    auto take = [&](std::unordered_map<std::string, std::set<uint64_t>>& table, bool data) {
      auto it = table.find(e.path);
      if (it == table.end()) return;
      for (uint64_t id : it->second) {
        targets.insert(id);
        auto cit = conns_.find(id);
        if (cit != conns_.end()) (data ? cit->second->data_watches : cit->second->child_watches).erase(e.path);
      }
      table.erase(it);
    };
    if (e.type != event::kNodeChildrenChanged) take(data_watches_, true);
    if (e.type == event::kNodeChildrenChanged || e.type == event::kNodeDeleted) take(child_watches_, false);
    if (targets.empty()) continue;
    std::string bytes;
    JuteWriter w = BeginFrame(&bytes);
    w.Int(xid::kWatchEvent);
    w.Long(-1);
    w.Int(err::kOk);
    w.Int(e.type);
    w.Int(event::kStateSyncConnected);
    w.String(e.path);
    FinishFrame(w);
    for (uint64_t id : targets) {
      auto cit = conns_.find(id);
      if (cit == conns_.end()) continue;
      if (cit->second.get() == pending_watch_origin_) {
        QueueBefore(cit->second.get(), pending_watch_seq_, bytes, zxid);
      } else {
        Queue(cit->second.get(), bytes, zxid);
      }
    }
  }
}

void Server::RemoveWatches(Connection* c) {
  for (const auto& path : c->data_watches) {
    auto it = data_watches_.find(path);
    if (it != data_watches_.end() && (it->second.erase(c->id), it->second.empty())) data_watches_.erase(it);
  }
  for (const auto& path : c->child_watches) {
    auto it = child_watches_.find(path);
    if (it != child_watches_.end() && (it->second.erase(c->id), it->second.empty())) child_watches_.erase(it);
  }
  c->data_watches.clear();
  c->child_watches.clear();
}

void Server::Tick() {
  int64_t now = NowMs();
  ExpireAdmin();
  if (ensemble_mode_) {
    // A learner reports the sessions it saw alive; only the serving leader expires any.
    if (!touched_.empty() && serving_ && !Leading()) {
      ens_->Touch(std::vector<uint64_t>(touched_.begin(), touched_.end()));
    }
    touched_.clear();
    if (!serving_ || !Leading()) return;
  }
  std::vector<int64_t> expired;
  for (auto& [id, s] : sessions_) {
    if (!s.closing && s.expire_at_ms < now) expired.push_back(id);
  }
  for (int64_t id : expired) {
    SessionState& s = sessions_[id];
    Log(LogLevel::kInfo, "SessionTrackerImpl@0", "Expiring session {}, timeout of {}ms exceeded", Hex(id), s.timeout);
    expired_sessions_++;
    uint64_t conn = s.conn;
    if (ensemble_mode_) {
      s.closing = true;  // decided once, here; the close goes through the log
      ens_->CloseSession(static_cast<uint64_t>(id));
      auto cit = conns_.find(conn);
      if (cit != conns_.end()) Close(cit->second.get(), nullptr);
      continue;
    }
    if (!Submit(nullptr, 0, op::kCloseSession, id, "")) {
      s.expire_at_ms = now + config_.tick_time;  // no room in the log yet: try again later
      continue;
    }
    auto cit = conns_.find(conn);
    if (cit != conns_.end()) Close(cit->second.get(), nullptr);
  }
}

void Server::MaybeSnapshot() {
  if (txns_since_snapshot_ < snapshot_threshold_ || snapshot_running_.load()) return;
  if (ensemble_mode_ && !ens_) return;  // out of the ensemble until its disk takes writes again
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  const int64_t zxid = tree_.last_zxid();
  const int retain = config_.snap_retain_count;
  const auto t0 = std::chrono::steady_clock::now();
  std::function<Status()> finish;  // the snapshot thread's part
  std::string where;
  if (ens_) {
    // The ensemble's storage writes it whole and lets the core forget the log it covers.
    EnsembleBridge* ens = ens_.get();
    auto payload = std::make_shared<std::string>(tree_.Serialize());
    finish = [ens, zxid, retain, payload] {
      Status s = ens->SaveSnapshot(zxid, *payload, retain);
      std::string().swap(*payload);
      return s;
    };
    where = log_dir_;
  } else {
    Status st = log_->Roll(zxid + 1);
    if (!st.ok()) {
      Log(LogLevel::kWarn, "SyncRequestProcessor@0", "Cannot roll the transaction log for a snapshot: {}", st.message());
      txns_since_snapshot_ = snapshot_threshold_ / 2;
      return;
    }
    // The tree goes straight into the file (the page cache, so this is quick) instead of
    // into a copy in memory as large as the tree; the fsync, the slow part, is the thread's.
    // (shared_ptr: std::function wants a closure it can copy.)
    auto file = std::make_shared<SnapshotWriter>(log_dir_, zxid);
    st = file->Open();
    if (st.ok()) st = WriteTree(tree_, file.get());
    txns_since_snapshot_ = 0;
    if (!st.ok()) {
      Log(LogLevel::kError, "SyncRequestProcessor@0",
          "Unable to take a snapshot at {}: {}; the previous snapshot and the logs are kept", Hex(zxid), st.message());
      return;
    }
    std::string dir = log_dir_;
    finish = [file, dir, retain] {
      Status s = file->Commit();
      if (s.ok()) PurgeOldFiles(dir, retain);
      return s;
    };
    where = fmt::format("{}/snapshot.{:x}", log_dir_, zxid);
  }
  txns_since_snapshot_ = 0;
  snapshot_running_ = true;
  snapshot_thread_ = std::thread([this, zxid, t0, where, finish = std::move(finish)]() mutable {
    pthread_setname_np(pthread_self(), "Snapshot Thread");
    Log(LogLevel::kInfo, "FileTxnSnapLog@0", "Snapshotting: {} to {}", Hex(zxid), where);
    Status s = finish();
    finish = nullptr;
    if (s.ok()) {
      snapshots_taken_++;
      last_snapshot_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    } else {
      Log(LogLevel::kError, "SyncRequestProcessor@0",
          "Unable to take a snapshot at {}: {}; the previous snapshot and the logs are kept", Hex(zxid), s.message());
    }
    malloc_trim(0);
    snapshot_running_ = false;
  });
}

}  // namespace faultline::coord

namespace faultline::coord {

bool Server::Leading() const { return role_ == static_cast<int>(zab::ServerState::kLeading); }

std::string Server::ModeName() const {
  if (!ensemble_mode_) return "standalone";
  switch (static_cast<zab::ServerState>(role_)) {
    case zab::ServerState::kLeading: return "leader";
    case zab::ServerState::kFollowing: return "follower";
    case zab::ServerState::kObserving: return "observer";
    default: return "looking";
  }
}

// The tree was replaced (a snapshot from the leader, or the disk's after rejoining): sessions
// are the tree's, each with a fresh timeout, and no watch is left on what was there before.
void Server::ResetFromTree() {
  sessions_.clear();
  int64_t now = NowMs();
  for (const auto& [id, timeout] : tree_.sessions()) sessions_[id] = SessionState{timeout, now + timeout, 0, false};
  data_watches_.clear();
  child_watches_.clear();
}

void Server::CloseAllClients(const char* why) {
  size_t n = 0;
  for (auto& [id, c] : conns_) {
    if (c->dead) continue;
    Close(c.get(), nullptr);
    ++n;
  }
  if (n) Log(LogLevel::kInfo, "NIOServerCnxnFactory@0", "Closed {} client connection(s): {}", n, why);
}

void Server::OnEnsemble() {
  for (EnsembleItem& item : ens_->Take()) {
    switch (item.kind) {
      case EnsembleItem::Kind::kCommit:
        OnEnsembleCommit(item);
        CompleteAppliedSyncs();
        break;
      case EnsembleItem::Kind::kSync: {
        auto it = pending_.find(item.seq);
        if (it == pending_.end()) break;
        if (!item.sync_ok) {
          auto cit = conns_.find(it->second.conn);
          pending_.erase(it);
          if (cit != conns_.end()) Close(cit->second.get(), "the sync could not reach the leader");
          break;
        }
        waiting_syncs_.emplace(item.sync_zxid, item.seq);
        CompleteAppliedSyncs();
        break;
      }
      case EnsembleItem::Kind::kInstall: {
        CloseAllClients("a snapshot from the leader replaces the data tree");
        if (!tree_.Deserialize(item.snapshot)) {
          fatal_ = Status::Internal("the snapshot from the leader at " + Hex(item.snapshot_zxid) + " does not decode");
          return;
        }
        ResetFromTree();
        Log(LogLevel::kInfo, "Learner@0", "Loaded the leader's snapshot at {} ({} znodes)", Hex(item.snapshot_zxid),
            tree_.node_count());
        break;
      }
      case EnsembleItem::Kind::kRole:
        OnRoleChange(item);
        break;
      case EnsembleItem::Kind::kTouched: {
        int64_t now = NowMs();
        for (uint64_t id : item.sessions) {
          auto it = sessions_.find(static_cast<int64_t>(id));
          if (it != sessions_.end()) it->second.expire_at_ms = now + it->second.timeout;
        }
        break;
      }
      case EnsembleItem::Kind::kRefused: {
        if (item.origin == 0) {
          // A close the leader could not propose: try again on the next tick if still leading.
          for (uint64_t id : item.sessions) {
            auto it = sessions_.find(static_cast<int64_t>(id));
            if (it != sessions_.end()) it->second.closing = false;
          }
          break;
        }
        auto it = pending_.find(item.seq);
        if (it == pending_.end()) break;
        auto cit = conns_.find(it->second.conn);
        pending_.erase(it);
        if (cit != conns_.end()) Close(cit->second.get(), "the request could not be proposed");
        break;
      }
    }
  }
}

void Server::CompleteAppliedSyncs() {
  while (!waiting_syncs_.empty() && waiting_syncs_.begin()->first <= tree_.last_zxid()) {
    uint64_t seq = waiting_syncs_.begin()->second;
    waiting_syncs_.erase(waiting_syncs_.begin());
    CompleteSync(seq);
  }
}

void Server::CompleteSync(uint64_t seq) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  auto cit = conns_.find(p.conn);
  if (cit == conns_.end() || cit->second->dead) return;
  Connection* c = cit->second.get();
  std::string body;
  JuteWriter w(&body);
  w.String(p.path);
  FillPlace(c, seq, p.xid, tree_.last_zxid(), err::kOk, body);
}

void Server::HoldPlace(Connection* c, uint64_t seq) {
  c->held.push_back(Connection::Held{INT64_MAX, {}, NowMs(), seq});
  c->outstanding++;
  outstanding_++;
  holding_.insert(c->id);
}

void Server::FillPlace(Connection* c, uint64_t seq, int32_t xid, int64_t zxid, int32_t err, std::string_view body) {
  for (auto& h : c->held) {
    if (h.seq != seq) continue;
    h.bytes = Frame(xid, zxid, err, body);
    h.tag = zxid;
    h.seq = 0;
    c->last_zxid = zxid;
    c->last_response_ms = WallMs();
    break;
  }
  Release(c);
}

void Server::OnEnsembleCommit(EnsembleItem& item) {
  Connection* origin = nullptr;
  Pending p;
  bool ours = false;
  if (item.origin == ens_->self() && item.seq != 0) {
    auto it = pending_.find(item.seq);
    if (it != pending_.end()) {
      p = it->second;
      ours = true;
      pending_.erase(it);
      auto cit = conns_.find(p.conn);
      if (cit != conns_.end() && !cit->second->dead) origin = cit->second.get();
    }
  }
  if (ours && p.connect) {
    ApplyCommitted(item.txn, nullptr, 0);
    if (!origin) return;
    int64_t id = item.txn.session_id;
    auto sit = sessions_.find(id);
    if (sit != sessions_.end()) sit->second.conn = origin->id;
    origin->session = id;
    origin->timeout = p.timeout;
    origin->connected = true;
    SendConnectResponse(origin, p.timeout, id, item.txn.zxid);
    Log(LogLevel::kInfo, "ZooKeeperServer@0", "Established session {} with negotiated timeout {} for client {}", Hex(id),
        p.timeout, origin->remote);
    return;
  }
  if (ours && origin) {
    ApplyCommitted(item.txn, origin, p.xid, item.seq);
  } else {
    ApplyCommitted(item.txn, nullptr, 0);
  }
}

void Server::OnRoleChange(EnsembleItem& item) {
  bool was_serving = serving_;
  int was_role = role_;
  role_ = static_cast<int>(item.state);
  serving_ = item.serving;
  if (was_serving && (!serving_ || was_role != role_)) {
    CloseAllClients(serving_ ? "the server changed its role" : "the server stopped serving requests");
    pending_.clear();
    waiting_syncs_.clear();
    touched_.clear();
  }
  if (serving_ && (!was_serving || was_role != role_)) {
    if (Leading()) {
      // A new leader gives every session a fresh timeout: it has heard from none of them yet.
      int64_t now = NowMs();
      for (auto& [id, s] : sessions_) {
        s.expire_at_ms = now + s.timeout;
        s.closing = false;
      }
    }
    if (storage_down_) {
      storage_down_ = false;
      Log(LogLevel::kInfo, "SyncRequestProcessor@0", "Transaction log in {} is writable again; writes resumed", log_dir_);
    }
    Log(LogLevel::kInfo, "QuorumPeer@0", "Serving clients as {} at zxid {}", ModeName(), Hex(tree_.last_zxid()));
  }
}

}  // namespace faultline::coord

namespace faultline::coord {

// A server that cannot write its log (a full disk, most often) must not acknowledge anything:
// it leaves the ensemble, keeps answering four-letter words ("not currently serving"), and
// tries every second to start over from what its disk holds, as a restarted process would.
void Server::LeaveEnsemble(const Status& why) {
  std::lock_guard<std::mutex> lock(tree_mu_);
  if (!storage_down_) {
    Log(LogLevel::kError, "SyncRequestProcessor@0",
        "Unable to write to the transaction log in {}: {}. This server leaves the ensemble and serves no "
        "requests until it can write again",
        log_dir_, why.message());
  }
  storage_down_ = true;
  CloseAllClients("the transaction log cannot be written");
  pending_.clear();
  waiting_syncs_.clear();
  touched_.clear();
  serving_ = false;
  role_ = static_cast<int>(zab::ServerState::kLooking);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, ens_->notify_fd(), nullptr);
  std::unique_ptr<EnsembleBridge> gone = std::move(ens_);
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  tree_mu_.unlock();  // the node thread may be waiting for it to take a snapshot
  gone.reset();
  tree_mu_.lock();
  rejoin_at_ms_ = NowMs() + 1000;
}

void Server::RejoinEnsemble() {
  std::lock_guard<std::mutex> lock(tree_mu_);
  rejoin_at_ms_ = NowMs() + 1000;
  auto ens = std::make_unique<EnsembleBridge>(config_, &tree_, &tree_mu_);
  std::string snapshot;
  std::vector<std::string> warnings;
  Status st = ens->Open(log_dir_, &snapshot, &warnings);
  if (!st.ok()) return;  // still no room, most likely; next second
  for (const auto& w : warnings) Log(LogLevel::kError, "FileTxnSnapLog@0", "{}", w);
  // The tree goes back to what the disk holds; the rest comes from the leader.
  DataTree fresh;
  if (!snapshot.empty() && !fresh.Deserialize(snapshot)) {
    fatal_ = Status::Internal(log_dir_ + ": the ensemble snapshot does not decode");
    return;
  }
  tree_ = std::move(fresh);
  ResetFromTree();
  txns_since_snapshot_ = 0;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEnsembleTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ens->notify_fd(), &ev);
  ens_ = std::move(ens);
  tree_mu_.unlock();
  st = ens_->Start();
  tree_mu_.lock();
  if (!st.ok()) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, ens_->notify_fd(), nullptr);
    tree_mu_.unlock();
    ens_.reset();
    tree_mu_.lock();
    return;
  }
  Log(LogLevel::kInfo, "QuorumPeer@0", "Rejoining the ensemble from {} at zxid {}", log_dir_, Hex(tree_.last_zxid()));
}

}  // namespace faultline::coord

#include "coord/zab/peer_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "coord/zab/codec.h"

namespace faultline::zab {

namespace {

using Clock = std::chrono::steady_clock;

std::string Frame(const std::string& payload) {
  std::string out(4, '\0');
  uint32_t len = static_cast<uint32_t>(payload.size());
  out[0] = static_cast<char>(len >> 24);
  out[1] = static_cast<char>(len >> 16);
  out[2] = static_cast<char>(len >> 8);
  out[3] = static_cast<char>(len);
  return out + payload;
}

std::string Hello(ServerId id) {
  std::string body(8, '\0');
  for (int i = 0; i < 8; ++i) body[i] = static_cast<char>(id >> (56 - 8 * i));
  return Frame(body);
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Tags in epoll data: the listening socket, the wake-up eventfd, an outgoing link (by peer id)
// or an incoming connection (by fd).
constexpr uint64_t kListenTag = 1ull << 62;
constexpr uint64_t kWakeTag = 1ull << 61;
constexpr uint64_t kOutTag = 1ull << 60;
constexpr std::chrono::milliseconds kFirstRetry{10};

}  // namespace

struct PeerNetwork::Outgoing {
  ServerId id = 0;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int fd = -1;
  bool connecting = false;
  bool connected = false;
  Clock::time_point deadline;
  Clock::time_point next_attempt;
  int failed_in_row = 0;  // connects that failed since the last one that worked
  std::deque<std::string> queue;  // framed, hello first after a connect
  size_t queued_bytes = 0;        // the sum of queue's frame sizes
  size_t offset = 0;              // bytes of queue.front() already written

  void PushFront(std::string frame) {
    queued_bytes += frame.size();
    queue.push_front(std::move(frame));
  }
  void PushBack(std::string frame) {
    queued_bytes += frame.size();
    queue.push_back(std::move(frame));
  }
  void PopFront() {
    queued_bytes -= queue.front().size();
    queue.pop_front();
  }
  bool want_write = false;
};

struct PeerNetwork::Incoming {
  int fd = -1;
  ServerId from = 0;  // 0 until the hello arrives
  std::string buffer;
};

PeerNetwork::PeerNetwork(ServerId self, std::vector<PeerEndpoint> members, PeerNetworkOptions options)
    : self_(self), members_(std::move(members)), options_(options) {}

PeerNetwork::~PeerNetwork() { Stop(); }

Status PeerNetwork::Start() {
  const PeerEndpoint* me = nullptr;
  for (const auto& m : members_) {
    if (m.id == self_) me = &m;
  }
  if (!me) return Status::Invalid("server " + std::to_string(self_) + " is not among the peer endpoints");

  std::map<ServerId, Outgoing*> links;
  auto cleanup = [&links] {
    for (auto& [id, out] : links) delete out;
  };
  sockaddr_storage listen_addr{};
  socklen_t listen_len = 0;
  for (const auto& m : members_) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(m.host.c_str(), std::to_string(m.port).c_str(), &hints, &res);
    if (rc != 0 || !res) {
      cleanup();
      return Status::Invalid("server." + std::to_string(m.id) + "=" + m.host + ":" + std::to_string(m.port) +
                             ": cannot resolve: " + gai_strerror(rc));
    }
    if (m.id == self_) {
      std::memcpy(&listen_addr, res->ai_addr, res->ai_addrlen);
      listen_len = res->ai_addrlen;
    } else {
      auto* out = new Outgoing;
      out->id = m.id;
      std::memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
      out->addr_len = res->ai_addrlen;
      links[m.id] = out;
    }
    freeaddrinfo(res);
  }

  listen_fd_ = socket(listen_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (listen_fd_ < 0 || setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&listen_addr), listen_len) != 0 ||
      listen(listen_fd_, 64) != 0) {
    Status st = Status::Unavailable(Errno(("listen on " + me->host + ":" + std::to_string(me->port)).c_str()));
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
    cleanup();
    return st;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    Status st = Status::Unavailable(Errno("epoll/eventfd"));
    Stop();
    cleanup();
    return st;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  outgoing_ = std::move(links);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, out] : outgoing_) stats_[id] = PeerLinkStats{};
  }
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void PeerNetwork::Stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  for (auto& [id, out] : outgoing_) {
    if (out->fd >= 0) close(out->fd);
    delete out;
  }
  outgoing_.clear();
  for (auto& [fd, in] : incoming_) {
    close(fd);
    delete in;
  }
  incoming_.clear();
  for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void PeerNetwork::Send(const Message& msg) { Send(std::vector<Message>{msg}); }

void PeerNetwork::Send(const std::vector<Message>& msgs) {
  if (msgs.empty()) return;
  std::vector<std::string> frames;
  frames.reserve(msgs.size());
  for (const Message& m : msgs) frames.push_back(Frame(EncodeMessage(m)));
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < msgs.size(); ++i) {
      if (stats_.find(msgs[i].to) == stats_.end()) continue;
      submitted_[msgs[i].to].push_back(std::move(frames[i]));
      any = true;
    }
  }
  if (!any) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

std::vector<Message> PeerNetwork::Receive(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  inbox_cv_.wait_for(lock, timeout, [this] { return !inbox_.empty() || woken_; });
  woken_ = false;
  std::vector<Message> out;
  out.swap(inbox_);
  return out;
}

void PeerNetwork::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  inbox_cv_.notify_all();
}

std::map<ServerId, PeerLinkStats> PeerNetwork::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void PeerNetwork::StartConnect(Outgoing& out) {
  out.fd = socket(out.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (out.fd < 0) {
    CloseOutgoing(out, true);
    return;
  }
  int one = 1;
  setsockopt(out.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Frames a partition swallows would otherwise wait out TCP's retransmission back-off
  // (tens of seconds after a long split): the connection is given up instead and made anew,
  // so a healed network carries votes again within a connect retry.
  unsigned int user_timeout = static_cast<unsigned int>(options_.stall_timeout.count());
  setsockopt(out.fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  int rc = connect(out.fd, reinterpret_cast<sockaddr*>(&out.addr), out.addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    CloseOutgoing(out, true);  // refused at once: the peer is down
    return;
  }
  out.connecting = rc != 0;
  out.connected = rc == 0;
  if (out.connected) out.failed_in_row = 0;
  out.deadline = Clock::now() + options_.connect_timeout;
  out.PushFront(Hello(self_));
  out.offset = 0;
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.u64 = kOutTag | out.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, out.fd, &ev);
  out.want_write = true;
  if (out.connected) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_[out.id].connected = true;
  }
}

void PeerNetwork::CloseOutgoing(Outgoing& out, bool failed) {
  if (out.fd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, out.fd, nullptr);
    close(out.fd);
  }
  out.fd = -1;
  // A frame cut in the middle is lost with its connection; the hello is never resent stale.
  if (out.offset > 0 && !out.queue.empty()) out.PopFront();
  out.offset = 0;
  if ((out.connecting || out.connected) && !out.queue.empty() && out.queue.front().size() == 12 &&
      out.queue.front() == Hello(self_)) {
    out.PopFront();
  }
  out.connecting = false;
  out.connected = false;
  out.want_write = false;
  // A connect that failed is tried again soon, then less and less often up to
  // retry_interval: servers started together refuse each other for a few milliseconds, and
  // waiting the whole interval out would hold up the first election by as much. A link that
  // worked and closed waits the whole interval (a peer that keeps closing costs little).
  auto wait = options_.retry_interval;
  if (failed) {
    wait = std::min(wait, kFirstRetry * (1 << std::min(out.failed_in_row, 8)));
    ++out.failed_in_row;
  }
  out.next_attempt = Clock::now() + wait;
  std::lock_guard<std::mutex> lock(mu_);
  stats_[out.id].connected = false;
  if (failed) ++stats_[out.id].connect_failures;
}

void PeerNetwork::UpdateInterest(Outgoing& out) {
  bool want = out.connecting || !out.queue.empty();
  if (want == out.want_write || out.fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u64 = kOutTag | out.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, out.fd, &ev);
  out.want_write = want;
}

// Everything queued for the peer goes out in as few sendmsg calls as the socket takes (up to
// kMaxIov frames each): a turn's proposals and commits share segments instead of each paying
// its own trip through the stack.
void PeerNetwork::FlushOutgoing(Outgoing& out) {
  constexpr size_t kMaxIov = 64;
  uint64_t sent = 0;
  while (!out.queue.empty()) {
    iovec iov[kMaxIov];
    size_t count = 0;
    for (auto it = out.queue.begin(); it != out.queue.end() && count < kMaxIov; ++it, ++count) {
      size_t skip = count == 0 ? out.offset : 0;
      iov[count] = iovec{const_cast<char*>(it->data()) + skip, it->size() - skip};
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = count;
    ssize_t n = ::sendmsg(out.fd, &mh, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseOutgoing(out, false);
      return;
    }
    auto left = static_cast<size_t>(n);
    while (left > 0) {
      size_t rest = out.queue.front().size() - out.offset;
      if (left < rest) {
        out.offset += left;
        break;
      }
      left -= rest;
      out.PopFront();
      out.offset = 0;
      ++sent;
    }
    if (out.offset > 0) break;  // the socket took part of a frame: it is full for now
  }
  if (sent > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_[out.id].frames_sent += sent;
  }
  UpdateInterest(out);
}

void PeerNetwork::ReadIncoming(int fd) {
  Incoming& in = *incoming_.at(fd);
  char buf[65536];
  bool closed = false;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      in.buffer.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
    break;
  }
  // Frames that arrived before a close still count.
  std::vector<Message> got;
  size_t pos = 0;
  bool bad = false;
  while (!bad && in.buffer.size() - pos >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(in.buffer.data() + pos);
    size_t len = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    if (len > kMaxFrameBytes) {
      bad = true;
      break;
    }
    if (in.buffer.size() - pos - 4 < len) break;
    std::string_view body(in.buffer.data() + pos + 4, len);
    pos += 4 + len;
    if (in.from == 0) {
      if (len != 8) {
        bad = true;
        break;
      }
      ServerId id = 0;
      for (char c : body) id = (id << 8) | static_cast<unsigned char>(c);
      in.from = id;
      // A peer keeps one connection to us: an older one it has given up on (it could not
      // tell us, the network was cut) ends here, through the normal close path.
      for (auto& [ofd, other] : incoming_) {
        if (other != &in && other->from == id) shutdown(ofd, SHUT_RDWR);
      }
      continue;
    }
    Message msg;
    if (!DecodeMessage(body, &msg).ok() || msg.from != in.from || msg.to != self_) {
      bad = true;
      break;
    }
    got.push_back(std::move(msg));
  }
  in.buffer.erase(0, pos);
  if (!got.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stats_.count(in.from)) stats_[in.from].frames_received += got.size();
      for (auto& m : got) inbox_.push_back(std::move(m));
    }
    inbox_cv_.notify_all();
  }
  if (closed || bad) {
    const ServerId from = in.from;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    delete &in;
    incoming_.erase(fd);
    // The core hears of it only when no other connection from that peer is left (a peer
    // that reconnected has already opened its next one).
    bool other = false;
    for (const auto& [f, i] : incoming_) other = other || i->from == from;
    if (from != 0 && !other && !stopping_) {
      Message down;
      down.type = MsgType::kLinkDown;
      down.from = from;
      down.to = self_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        inbox_.push_back(std::move(down));
      }
      inbox_cv_.notify_all();
    }
  }
}

void PeerNetwork::Loop() {
  epoll_event events[64];
  while (!stopping_) {
    // Frames handed to Send() since the last turn join their peer's queue, bounded.
    std::map<ServerId, std::deque<std::string>> fresh;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fresh.swap(submitted_);
    }
    uint64_t dropped_total = 0;
    std::map<ServerId, uint64_t> dropped;
    for (auto& [id, frames] : fresh) {
      auto it = outgoing_.find(id);
      if (it == outgoing_.end()) continue;
      Outgoing& out = *it->second;
      for (auto& f : frames) out.PushBack(std::move(f));
      // Never drop the hello or a frame half written.
      size_t keep_front = (out.offset > 0 || out.connecting || out.connected) ? 1 : 0;
      while (out.queue.size() > keep_front + 1 &&
             (out.queue.size() > options_.max_queued_frames + keep_front || out.queued_bytes > options_.max_queued_bytes)) {
        auto victim = out.queue.begin() + static_cast<std::ptrdiff_t>(keep_front);
        out.queued_bytes -= victim->size();
        out.queue.erase(victim);
        ++dropped[id];
        ++dropped_total;
      }
    }
    if (dropped_total > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, n] : dropped) stats_[id].frames_dropped += n;
    }

    auto now = Clock::now();
    for (auto& [id, out] : outgoing_) {
      if (out->fd < 0 && !out->queue.empty() && now >= out->next_attempt) StartConnect(*out);
      if (out->fd >= 0 && out->connecting && now >= out->deadline) CloseOutgoing(*out, true);
      if (out->fd >= 0 && out->connected && !out->queue.empty()) FlushOutgoing(*out);
    }

    int n = epoll_wait(epoll_fd_, events, 64, 20);
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
      } else if (tag == kListenTag) {
        for (;;) {
          int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          auto* in = new Incoming;
          in->fd = fd;
          incoming_[fd] = in;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = static_cast<uint64_t>(fd);
          epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        }
      } else if (tag & kOutTag) {
        auto it = outgoing_.find(tag & ~kOutTag);
        if (it == outgoing_.end() || it->second->fd < 0) continue;
        Outgoing& out = *it->second;
        if (out.connecting && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(out.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            CloseOutgoing(out, true);
            continue;
          }
          out.connecting = false;
          out.connected = true;
          out.failed_in_row = 0;
          std::lock_guard<std::mutex> lock(mu_);
          stats_[out.id].connected = true;
        }
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          CloseOutgoing(out, false);
          continue;
        }
        if (events[i].events & EPOLLIN) {
          // The peer never talks back on our link: readable means it closed it.
          char c;
          ssize_t r = recv(out.fd, &c, 1, MSG_DONTWAIT);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            CloseOutgoing(out, false);
            continue;
          }
        }
        if (out.connected) FlushOutgoing(out);
      } else if (incoming_.count(static_cast<int>(tag))) {
        ReadIncoming(static_cast<int>(tag));
      }
    }
  }
}

}  // namespace faultline::zab

#include "faults/agent/delayer.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <queue>
#include <vector>

extern "C" {
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "faults/agent/state.h"
#include "faults/agent/sys.h"

namespace faultline::agent {

DelayModel::DelayModel(const DelayerOptions& options) : o_(options), state_(options.seed | 1) {}

uint64_t DelayModel::Rand() {
  // xorshift64*: fast, seeded, good enough to spread delays and pick losses.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 2685821657736338717ull;
}

long long DelayModel::Next() {
  if (o_.loss > 0 && Uniform() < o_.loss) return -1;
  // netem's correlation: the next random value leans on the previous one.
  double u = Uniform();
  double v = o_.correlation > 0 ? o_.correlation * last_ + (1 - o_.correlation) * u : u;
  last_ = v;
  long long d = static_cast<long long>(o_.latency_us) +
                static_cast<long long>((2 * v - 1) * static_cast<double>(o_.jitter_us));
  return d < 0 ? 0 : d;
}

namespace {

volatile sig_atomic_t g_stop = 0;
void OnTerm(int) { g_stop = 1; }

struct Held {
  long long due_us;
  uint32_t id;
  bool operator>(const Held& o) const { return due_us > o.due_us; }
};

long long NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool SendMsg(int fd, nlmsghdr* nlh) {
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  return sendto(fd, nlh, nlh->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(nlh->nlmsg_len);
}

bool Verdict(int fd, uint16_t queue, uint32_t id, int verdict) {
  char buf[256];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queue);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), verdict);
  return SendMsg(fd, nlh);
}

// Still wanted: the state file lists our fault with our queue.
bool StillListed(const DelayerOptions& o) {
  StateStore store(o.state_dir);
  nlohmann::json state;
  if (!store.Load(&state).ok()) return true;  // unreadable: keep serving, bypass is safe
  auto* rec = FindFault(state, o.run, o.fault);
  return rec && rec->contains("artefacts") &&
         (*rec)["artefacts"].value("queue", -1) == static_cast<int>(o.queue);
}

}  // namespace

int RunDelayer(const DelayerOptions& o) {
  signal(SIGTERM, OnTerm);
  signal(SIGINT, OnTerm);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    std::perror("delayer: netlink socket");
    return 1;
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    std::perror("delayer: bind");
    return 1;
  }
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  // ENOBUFS under load would otherwise stop the loop; lost notifications are packets the
  // kernel already let through (fail-open).
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

  char buf[0xffff + (MNL_SOCKET_BUFFER_SIZE / 2)];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, o.queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  if (!SendMsg(fd, nlh)) {
    std::perror("delayer: bind queue");
    return 1;
  }
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, o.queue);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
  if (!SendMsg(fd, nlh)) {
    std::perror("delayer: configure queue");
    return 1;
  }

  DelayModel model(o);
  std::priority_queue<Held, std::vector<Held>, std::greater<Held>> held;
  long long next_check = NowUs() + 1000000;
  while (!g_stop) {
    long long now = NowUs();
    while (!held.empty() && held.top().due_us <= now) {
      Verdict(fd, o.queue, held.top().id, NF_ACCEPT);
      held.pop();
    }
    if (now >= next_check) {
      if (!StillListed(o)) break;
      next_check = now + 1000000;
    }
    long long wait_us = next_check - now;
    if (!held.empty()) wait_us = std::min(wait_us, held.top().due_us - now);
    pollfd p{fd, POLLIN, 0};
    // Round up so a 300 µs wait does not become a busy 0 ms loop.
    int rc = poll(&p, 1, static_cast<int>((wait_us + 999) / 1000));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) continue;
    long long arrived = NowUs();
    int len = static_cast<int>(n);
    for (nlmsghdr* m = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(m, len);
         m = NLMSG_NEXT(m, len)) {
      if (m->nlmsg_type == NLMSG_ERROR || m->nlmsg_type == NLMSG_DONE) continue;
      nlattr* attr[NFQA_MAX + 1] = {};
      if (nfq_nlmsg_parse(m, attr) < 0 || !attr[NFQA_PACKET_HDR]) continue;
      auto* ph = static_cast<nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
      uint32_t id = ntohl(ph->packet_id);
      long long delay = model.Next();
      if (delay < 0) {
        Verdict(fd, o.queue, id, NF_DROP);
      } else if (delay == 0) {
        Verdict(fd, o.queue, id, NF_ACCEPT);
      } else {
        held.push({arrived + delay, id});
      }
    }
  }
  // Let everything held go on its way before unbinding: revert means "as before".
  while (!held.empty()) {
    Verdict(fd, o.queue, held.top().id, NF_ACCEPT);
    held.pop();
  }
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, o.queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
  SendMsg(fd, nlh);
  close(fd);
  return 0;
}

}  // namespace faultline::agent

#include "checks/zk_fourlw.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace faultline {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string Trim(const std::string& s) {
  auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

}  // namespace

Status SendFourLetterWord(const std::string& host, int port, const std::string& word,
                          std::chrono::milliseconds timeout, std::string* out) {
  const std::string where = host + ":" + std::to_string(port) + " (" + word + ")";
  auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::Unavailable(where + ": cannot resolve: " + gai_strerror(gai));
  Fd sock;
  sock.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) {
    freeaddrinfo(res);
    return Status::Unavailable(where + ": socket: " + std::strerror(errno));
  }
  int rc = ::connect(sock.fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    return Status::Unavailable(where + ": connect: " + std::strerror(errno));
  }
  pollfd p{sock.fd, POLLOUT, 0};
  if (rc != 0) {
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n == 0) return Status::Timeout(where + ": no connection within " + std::to_string(timeout.count()) + " ms");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Status::Unavailable(where + ": connect: " + std::strerror(err));
  }
  if (::send(sock.fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    return Status::Unavailable(where + ": send: " + std::strerror(errno));
  }
  out->clear();
  char buf[4096];
  for (;;) {
    p = {sock.fd, POLLIN, 0};
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n == 0) return Status::Timeout(where + ": no complete answer within " + std::to_string(timeout.count()) + " ms");
    if (n < 0 && errno == EINTR) continue;
    ssize_t got = ::recv(sock.fd, buf, sizeof buf, 0);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // A server that is not serving may reset right after answering.
      if (errno == ECONNRESET && !out->empty()) break;
      return Status::Unavailable(where + ": recv: " + std::strerror(errno));
    }
    out->append(buf, static_cast<size_t>(got));
    if (out->size() > (4u << 20)) return Status::Unavailable(where + ": answer larger than 4 MiB");
  }
  return Status::Ok();
}

bool FourLetterWordRefused(const std::string& word, const std::string& answer) {
  return answer.rfind(word + " is not executed because it is not in the whitelist.", 0) == 0;
}

std::string FourLetterWordRefusal(const std::string& word) {
  return "'" + word + "' is not in the server's 4lw.commands.whitelist";
}

Status ParseSrvr(const std::string& text, ZkServerStatus* out) {
  *out = ZkServerStatus();
  if (text.find("not currently serving requests") != std::string::npos) return Status::Ok();
  std::istringstream in(text);
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    if (key == "Mode") {
      out->mode = value;
      any = true;
    } else if (key == "Node count") {
      out->znode_count = std::atoll(value.c_str());
    } else if (key == "Outstanding") {
      out->outstanding = std::atoll(value.c_str());
    } else if (key == "Zxid") {
      out->zxid = std::strtoll(value.c_str(), nullptr, 0);
    } else if (key == "Zookeeper version") {
      out->version = value;
    }
  }
  if (!any) {
    std::string first = text.substr(0, text.find('\n'));
    return Status::Invalid("srvr: no \"Mode:\" line in the answer (starts with \"" + first + "\")");
  }
  out->serving = true;
  return Status::Ok();
}

std::map<std::string, std::string> ParseMntr(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos || line.rfind("zk_", 0) != 0) continue;
    out[line.substr(0, tab)] = Trim(line.substr(tab + 1));
  }
  return out;
}

}  // namespace faultline

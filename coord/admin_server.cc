// quorumd's AdminServer: ZooKeeper 3.8's HTTP command interface, answered from the server's
// own loop so that it reads the same figures as the four-letter words.
//
// As ZooKeeper's JettyAdminServer and Commands
// (zookeeper-server/src/main/java/org/apache/zookeeper/server/admin/JettyAdminServer.java,
// Commands.java, CommandResponse.java, JsonOutputter.java):
// - on unless admin.enableServer says otherwise, on admin.serverAddress:admin.serverPort
//   (0.0.0.0:8080), commands under admin.commandURL (/commands);
// - GET <commandURL>/<name> answers 200 with a JSON object: the command's fields, then
//   "command" and "error" (null, or why the command did not run); a name ZooKeeper does not
//   know is "Unknown command: <name>"; a command that needs a running server, asked while the
//   server is not serving, is "This ZooKeeper instance is not currently serving requests";
// - GET <commandURL> lists the commands; any other path is 404.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "coord/log.h"
#include "coord/server.h"

namespace faultline::coord {

namespace {

constexpr size_t kMaxRequestHead = 16 * 1024;
constexpr int64_t kIdleTimeoutMs = 30000;  // JettyAdminServer.DEFAULT_IDLE_TIMEOUT

// ZooKeeper 3.8's command names (Commands.java's registrations), primary name first.
const std::vector<std::vector<std::string>>& CommandNames() {
  static const std::vector<std::vector<std::string>> names = {
      {"configuration", "conf", "config"},
      {"connection_stat_reset", "crst"},
      {"connections", "cons"},
      {"dirs"},
      {"dump"},
      {"environment", "env", "envi"},
      {"get_trace_mask", "gtmk"},
      {"hash"},
      {"initial_configuration", "icfg"},
      {"is_read_only", "isro"},
      {"last_snapshot", "lsnp"},
      {"leader", "lead"},
      {"monitor", "mntr"},
      {"observer_connection_stat_reset", "orst"},
      {"observers", "obsr"},
      {"ruok"},
      {"set_trace_mask", "stmk"},
      {"server_stats", "srvr"},
      {"stat_reset", "srst"},
      {"stats", "stat"},
      {"system_properties", "sysp"},
      {"voting_view"},
      {"watches", "wchc"},
      {"watches_by_path", "wchp"},
      {"watch_summary", "wchs"},
      {"zabstate"},
  };
  return names;
}

const std::vector<std::string>* FindCommand(const std::string& name) {
  for (const auto& names : CommandNames()) {
    for (const auto& n : names) {
      if (n == name) return &names;
    }
  }
  return nullptr;
}

std::string HttpAnswer(int status, const char* reason, const std::string& type, const std::string& body) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     status, reason, type, body.size(), body);
}

std::string ErrorPage(int status, const char* reason, const std::string& target) {
  return HttpAnswer(status, reason, "text/html;charset=iso-8859-1",
                    fmt::format("<html><head><title>Error {0} {1}</title></head><body><h2>HTTP ERROR {0} {1}</h2>"
                                "<p>URI: {2}</p></body></html>\n",
                                status, reason, target));
}

}  // namespace

Status Server::StartAdmin() {
  admin_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (admin_fd_ < 0) return Status::Unavailable(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(admin_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(config_.admin_port));
  if (inet_pton(AF_INET, config_.admin_address.c_str(), &addr.sin_addr) != 1) {
    return Status::Invalid(fmt::format("{}: admin.serverAddress '{}' is not an IPv4 address", config_.path,
                                       config_.admin_address));
  }
  if (bind(admin_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Unavailable(fmt::format("cannot bind {}:{}: {} (admin.serverPort, or admin.enableServer=false)",
                                           config_.admin_address, config_.admin_port, strerror(errno)));
  }
  if (listen(admin_fd_, 64) != 0) return Status::Unavailable(std::string("listen: ") + strerror(errno));
  socklen_t len = sizeof addr;
  getsockname(admin_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  admin_port_ = ntohs(addr.sin_port);
  Log(LogLevel::kInfo, "JettyAdminServer@0", "Started AdminServer on address {}, port {} and command URL {}",
      config_.admin_address, admin_port_, config_.admin_command_url);
  return Status::Ok();
}

void Server::AdminAccept() {
  for (;;) {
    int fd = accept4(admin_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto a = std::make_unique<AdminConn>();
    a->fd = fd;
    a->opened_ms = NowMs();
    uint64_t id = next_conn_id_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    admin_conns_[id] = std::move(a);
  }
}

void Server::ExpireAdmin() {
  int64_t now = NowMs();
  for (auto it = admin_conns_.begin(); it != admin_conns_.end();) {
    if (now - it->second->opened_ms > kIdleTimeoutMs) {
      close(it->second->fd);
      it = admin_conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::OnAdmin(uint64_t tag, uint32_t events) {
  AdminConn* a = admin_conns_.at(tag).get();
  bool done = false;
  if (!a->answered && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(a->fd, buf, sizeof buf);
      if (n > 0) {
        a->in.append(buf, static_cast<size_t>(n));
        if (a->in.size() > kMaxRequestHead) break;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      done = true;  // closed (or failed) before a whole request came
      break;
    }
    size_t end = a->in.find("\r\n\r\n");
    if (end == std::string::npos && a->in.size() > kMaxRequestHead) {
      a->out = ErrorPage(431, "Request Header Fields Too Large", "");
      a->answered = true;
    } else if (end != std::string::npos) {
      std::string line = a->in.substr(0, a->in.find("\r\n"));
      size_t sp1 = line.find(' ');
      size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
      if (sp2 == std::string::npos) {
        a->out = ErrorPage(400, "Bad Request", "");
      } else {
        std::string method = line.substr(0, sp1);
        std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string path = target.substr(0, target.find('?'));
        const std::string& base = config_.admin_command_url;
        if (method != "GET" && method != "HEAD") {
          a->out = ErrorPage(405, "Method Not Allowed", path);
        } else if (path == base || path == base + "/") {
          std::string body;
          for (const auto& names : CommandNames()) {
            body += fmt::format("<a href=\"{0}/{1}\">{1}</a>\n<br/>\n", base, names[0]);
          }
          a->out = HttpAnswer(200, "OK", "text/html;charset=utf-8", body);
        } else if (path.rfind(base + "/", 0) == 0) {
          a->out = HttpAnswer(200, "OK", "application/json", AdminCommand(path.substr(base.size() + 1)));
        } else {
          a->out = ErrorPage(404, "Not Found", path);
        }
        if (method == "HEAD") a->out.resize(a->out.find("\r\n\r\n") + 4);
      }
      a->answered = true;
    }
  }
  if (a->answered && !done) {
    while (a->sent < a->out.size()) {
      ssize_t n = write(a->fd, a->out.data() + a->sent, a->out.size() - a->sent);
      if (n > 0) {
        a->sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      done = true;
      break;
    }
    if (a->sent >= a->out.size()) {
      done = true;
    } else if (!done) {
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u64 = tag;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, a->fd, &ev);
    }
  }
  if (done) {
    close(a->fd);
    admin_conns_.erase(tag);
  }
}

std::string Server::AdminCommand(const std::string& name) {
  using J = nlohmann::ordered_json;
  J m = J::object();
  std::string error;
  const std::vector<std::string>* known = FindCommand(name);
  // As the commands' isServerRequired: every command but monitor needs a serving server.
  bool serving = !ensemble_mode_ || serving_;
  if (!known) {
    error = "Unknown command: " + name;
  } else if ((*known)[0] != "monitor" && !serving) {
    error = "This ZooKeeper instance is not currently serving requests";
  } else if ((*known)[0] == "ruok") {
  } else if ((*known)[0] == "server_stats") {
    m = ServerStatsValues(false);
  } else if ((*known)[0] == "stats") {
    m = ServerStatsValues(true);
  } else if ((*known)[0] == "monitor") {
    if (serving) {
      m = MonitorValues();
    } else {
      error = "This ZooKeeper instance is not currently serving requests";
    }
  } else if ((*known)[0] == "is_read_only") {
    m["read_only"] = false;
  } else {
    error = "quorumd does not serve the AdminServer command " + (*known)[0];
  }
  m["command"] = known ? (*known)[0] : name;  // CommandBase.initializeResponse: the primary name
  m["error"] = error.empty() ? J() : J(error);
  // JsonOutputter writes with Jackson's default pretty printer; the layout is not part of the
  // format, the fields and their types are.
  return m.dump(2) + "\n";
}

}  // namespace faultline::coord

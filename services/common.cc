#include "services/common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace faultline::svc {

std::atomic<bool> g_stop{false};

bool Flags::Parse(int argc, char** argv, int first, std::string* error) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) rest_.push_back(argv[i]);
      break;
    }
    if (a.rfind("--", 0) == 0) {
      std::string key = a.substr(2), value;
      auto eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        value = argv[++i];
      } else {
        value = "true";
      }
      if (key.empty()) {
        *error = "empty flag name in '" + a + "'";
        return false;
      }
      values_[key].push_back(value);
    } else {
      positional_.push_back(a);
    }
  }
  return true;
}

std::string Flags::Get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Flags::All(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int Flags::GetInt(const std::string& key, int fallback) const {
  std::string v = Get(key);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (*end != '\0') {
    std::fprintf(stderr, "fl-svc: --%s expects a number, got '%s'\n", key.c_str(), v.c_str());
    std::exit(2);
  }
  return static_cast<int>(n);
}

std::string Flags::Require(const std::string& key) const {
  std::string v = Get(key);
  if (v.empty()) {
    std::fprintf(stderr, "fl-svc: the flag --%s is required\n", key.c_str());
    std::exit(2);
  }
  return v;
}

Log& Log::Get() {
  static Log* log = new Log();
  return *log;
}

void Log::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (path.empty() || path == "-") return;
  FILE* f = std::fopen(path.c_str(), "a");
  if (!f) {
    std::fprintf(stderr, "fl-svc: cannot open log %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(2);
  }
  out_ = f;
}

void Log::Write(const std::string& level, const std::string& logger, const std::string& message) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &t);
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(out_, "%s,%03d %s %s: %s\n", stamp, static_cast<int>(tv.tv_usec / 1000), level.c_str(),
               logger.c_str(), message.c_str());
  std::fflush(out_);
}

namespace {

void OnStop(int) { g_stop = true; }

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool ReadAll(int fd, std::string* out, std::chrono::steady_clock::time_point deadline, size_t want_headers_only) {
  char buf[8192];
  for (;;) {
    if (want_headers_only) {
      auto end = out->find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = out->find("Content-Length:");
        if (cl == std::string::npos) cl = out->find("content-length:");
        size_t len = cl == std::string::npos || cl > end ? 0 : std::strtoul(out->c_str() + cl + 15, nullptr, 10);
        if (out->size() >= end + 4 + len) return true;
      }
    }
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return !want_headers_only || got == 0;
    out->append(buf, static_cast<size_t>(got));
    if (out->size() > (16u << 20)) return false;
  }
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

}  // namespace

void InstallStopHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnStop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void WritePidFile(const std::string& path) {
  if (path.empty()) return;
  std::ofstream(path) << getpid() << "\n";
}

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Hex(long long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = text.substr(0, colon);
  char* end = nullptr;
  long p = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535) return false;
  *port = static_cast<int>(p);
  return true;
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& host, int port, Handler handler) {
  handler_ = std::move(handler);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::Invalid("http: '" + host + "' is not an IPv4 address");
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0) {
    return Status::Unavailable("http: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               std::strerror(errno));
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int i = 0; i < 300 && active_ > 0; ++i) SleepMs(10);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpServer::Loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // Each connection on its own thread: a produce waiting for its followers must not
    // block the followers' fetches to the same server.
    ++active_;
    std::thread([this, c] {
      Serve(c);
      --active_;
    }).detach();
  }
}

void HttpServer::Serve(int c) {
  {
    std::string raw;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    HttpResponse resp;
    if (!ReadAll(c, &raw, deadline, 1)) {
      resp = HttpResponse::Json({{"error", "incomplete request"}}, 400);
    } else {
      HttpRequest req;
      auto line_end = raw.find("\r\n");
      std::istringstream first(raw.substr(0, line_end));
      std::string target;
      first >> req.method >> target;
      auto q = target.find('?');
      req.path = UrlDecode(target.substr(0, q));
      if (q != std::string::npos) {
        std::istringstream qs(target.substr(q + 1));
        std::string kv;
        while (std::getline(qs, kv, '&')) {
          auto eq = kv.find('=');
          req.query[UrlDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
        }
      }
      req.body = raw.substr(raw.find("\r\n\r\n") + 4);
      try {
        resp = handler_(req);
      } catch (const std::exception& e) {
        resp = HttpResponse::Json({{"error", e.what()}}, 500);
      }
    }
    std::string out = "HTTP/1.0 " + std::to_string(resp.status) + " " + Reason(resp.status) +
                      "\r\nContent-Type: " + resp.content_type + "\r\nContent-Length: " +
                      std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n" + resp.body;
    SendAll(c, out);
    ::close(c);
  }
}

Status HttpCall(const std::string& host, int port, const std::string& method, const std::string& target,
                const std::string& body, std::chrono::milliseconds timeout, int* status, std::string* response) {
  std::string where = "http://" + host + ":" + std::to_string(port) + target;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(where + ": socket: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) {
      return Status::Unavailable(where + ": cannot resolve " + host);
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    freeaddrinfo(res);
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) return Status::Unavailable(where + ": connect: " + std::strerror(errno));
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    int left = static_cast<int>(timeout.count());
    if (::poll(&p, 1, left) <= 0) return Status::Timeout(where + ": no connection within " + std::to_string(left) + " ms");
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return Status::Unavailable(where + ": connect: " + std::strerror(err));
  }
  std::string req = method + " " + target + " HTTP/1.0\r\nHost: " + host + "\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  SendAll(fd, req);
  std::string raw;
  if (!ReadAll(fd, &raw, deadline, 0)) return Status::Timeout(where + ": no complete answer in time");
  auto sp = raw.find(' ');
  auto hdr_end = raw.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) {
    return Status::Unavailable(where + ": malformed HTTP answer");
  }
  *status = std::atoi(raw.c_str() + sp + 1);
  *response = raw.substr(hdr_end + 4);
  return Status::Ok();
}

Session::Session(std::string connect, int timeout_ms, std::string logger)
    : connect_(std::move(connect)), logger_(std::move(logger)) {
  ZkClient::Options o;
  o.connect = connect_;
  o.session_timeout = std::chrono::milliseconds(timeout_ms);
  o.on_state = [this](ZkSessionState s) {
    Log& log = Log::Get();
    if (s == ZkSessionState::kConnected) {
      log.Info("org.apache.zookeeper.ClientCnxn",
               "Session establishment complete on server " + connect_ + ", session id = " +
                   Hex(client_->session_id()) + ", negotiated timeout = " +
                   std::to_string(client_->negotiated_timeout_ms()));
      if (on_connected) on_connected();
    } else if (s == ZkSessionState::kDisconnected) {
      log.Warn("org.apache.zookeeper.ClientCnxn",
               "Session " + Hex(client_->session_id()) + " for server " + connect_ +
                   ", Closing socket connection and attempting reconnect. KeeperErrorCode = ConnectionLoss");
      if (on_disconnected) on_disconnected();
    } else if (s == ZkSessionState::kExpired) {
      log.Warn("org.apache.zookeeper.ClientCnxn",
               "Unable to reconnect to ZooKeeper service, session " + Hex(client_->session_id()) +
                   " has expired");
      if (on_expired) on_expired();
    }
  };
  client_ = std::make_unique<ZkClient>(o);
  static std::once_flag once;
  std::call_once(once, [] {
    SetZkLibraryLog([](const std::string& line) { Log::Get().Warn("zookeeper.c", line); });
  });
}

Status Session::Start(std::chrono::milliseconds wait) { return client_->Connect(wait); }

Status WriteFileDurable(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Unavailable("write " + tmp + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Status::Unavailable("fsync " + tmp + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::Unavailable("rename " + path + ": " + std::strerror(errno));
  std::string dir = path.substr(0, path.rfind('/'));
  int dfd = ::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace faultline::svc

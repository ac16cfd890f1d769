// Pieces every lab service shares: flags, an operator-style log file, a tiny HTTP/1.0
// server and client for the status endpoints and data paths, a ZooKeeper session that
// logs what the real systems log, and the stop signal.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "checks/zk_client.h"

namespace faultline::svc {

// --key value / --key=value; a key may repeat; everything after "--" is `rest`.
class Flags {
 public:
  // Returns false with `error` set on a malformed command line.
  bool Parse(int argc, char** argv, int first, std::string* error);
  std::string Get(const std::string& key, const std::string& fallback = "") const;
  std::vector<std::string> All(const std::string& key) const;
  int GetInt(const std::string& key, int fallback) const;
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  // Exits with status 2 and a message naming the flag when it is missing.
  std::string Require(const std::string& key) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::string>& rest() const { return rest_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> rest_;
};

// Lines as log4j's default layout writes them: "2026-11-22 04:31:00,123 INFO <logger>: <msg>",
// flushed per line so a crashed process leaves its last words.
class Log {
 public:
  static Log& Get();
  void Open(const std::string& path);  // "" or "-": stderr
  void Write(const std::string& level, const std::string& logger, const std::string& message);
  void Info(const std::string& logger, const std::string& m) { Write("INFO", logger, m); }
  void Warn(const std::string& logger, const std::string& m) { Write("WARN", logger, m); }
  void Error(const std::string& logger, const std::string& m) { Write("ERROR", logger, m); }
  void Fatal(const std::string& logger, const std::string& m) { Write("FATAL", logger, m); }

 private:
  std::mutex mu_;
  FILE* out_ = stderr;
};

struct HttpRequest {
  std::string method;
  std::string path;  // without the query
  std::map<std::string, std::string> query;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  static HttpResponse Json(const nlohmann::json& j, int status = 200) {
    HttpResponse r;
    r.status = status;
    r.body = j.dump() + "\n";
    return r;
  }
};

// One thread accepts; each connection is served on a thread of its own.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  ~HttpServer();
  Status Start(const std::string& host, int port, Handler handler);
  void Stop();

 private:
  void Loop();
  void Serve(int fd);
  int fd_ = -1;
  std::atomic<int> active_{0};
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A plain HTTP/1.0 call; kUnavailable when nothing answers, kTimeout past `timeout`.
Status HttpCall(const std::string& host, int port, const std::string& method, const std::string& target,
                const std::string& body, std::chrono::milliseconds timeout, int* status, std::string* response);

// "host:port" -> parts; false when malformed.
bool SplitHostPort(const std::string& text, std::string* host, int* port);
std::string UrlEncode(const std::string& s);

// Set by SIGTERM/SIGINT.
extern std::atomic<bool> g_stop;
void InstallStopHandlers();
void WritePidFile(const std::string& path);
long long NowMs();
std::string Hex(long long v);  // "0x16e2..." as ZooKeeper prints session ids
void SleepMs(int ms);

// A ZooKeeper session whose state changes are logged the way `logger` logs them, plus the
// C client's own warnings. Expired sessions are not renewed here: callers decide.
class Session {
 public:
  Session(std::string connect, int timeout_ms, std::string logger);
  ZkClient& zk() { return *client_; }
  // Starts a new session; waits up to `wait` for it.
  Status Start(std::chrono::milliseconds wait);
  bool connected() const { return client_->state() == ZkSessionState::kConnected; }
  bool expired() const { return client_->state() == ZkSessionState::kExpired; }
  // Hooks for the system-specific lines (called from the client's event thread).
  std::function<void()> on_disconnected, on_connected, on_expired;

 private:
  std::string connect_;
  std::string logger_;
  std::unique_ptr<ZkClient> client_;
};

// Atomically replaces `path` with `data` and fsyncs it (shared edits, region files).
Status WriteFileDurable(const std::string& path, const std::string& data);
bool ReadFile(const std::string& path, std::string* out);

}  // namespace faultline::svc

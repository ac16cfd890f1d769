// A small synchronous ZooKeeper client over the official C client (libzookeeper-mt), shared
// by the role probes and the lab services.
//
// The C client runs its own I/O and completion threads; this wrapper turns its session
// events into a state the caller can poll (connected, disconnected, expired) and its
// error codes into Status. It never reconnects an expired session on its own: what to do
// after expiry is a decision of the caller (a RegionServer aborts, a failover controller
// rejoins the election with a new session).
//
// Thread safety: all methods may be called from any thread; the handle is only replaced
// by Reconnect(), which must not race with other calls on the same object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

typedef struct _zhandle zhandle_t;

namespace faultline {

enum class ZkSessionState { kConnecting, kConnected, kDisconnected, kExpired, kClosed };
const char* ZkSessionStateName(ZkSessionState s);

// Where the C client's own log lines go, process-wide (its callback carries no context).
// Default: discarded. The level is WARN, so only trouble is reported.
void SetZkLibraryLog(std::function<void(const std::string& line)> sink);

struct ZkStat {
  long long czxid = 0;
  long long mzxid = 0;
  int version = 0;
  long long ephemeral_owner = 0;
  int num_children = 0;
};

// Error codes the callers branch on; everything else is reported as kUnavailable.
enum class ZkError { kOk, kNoNode, kNodeExists, kBadVersion, kNotEmpty, kConnectionLoss,
                     kSessionExpired, kOther };

class ZkClient {
 public:
  struct Options {
    std::string connect;  // "127.0.0.1:22101,127.0.0.1:22102"
    std::chrono::milliseconds session_timeout{6000};
    // Every session event goes here (may be empty).
    std::function<void(const std::string& line)> log;
    // Called from the C client's event thread on every session state change.
    std::function<void(ZkSessionState)> on_state;
  };

  explicit ZkClient(Options options);
  ~ZkClient();
  ZkClient(const ZkClient&) = delete;
  ZkClient& operator=(const ZkClient&) = delete;

  // Starts a session (closing any previous handle) and waits up to `wait` for it to connect.
  Status Connect(std::chrono::milliseconds wait);
  // Waits until the session is connected, expired or closed, or `wait` passes.
  bool WaitConnected(std::chrono::milliseconds wait);
  void Close();

  ZkSessionState state() const;
  long long session_id() const;
  // "host:port" of the server the session is on (or connecting to); "" without a handle.
  std::string current_server() const;
  // The negotiated session timeout (what the server granted).
  int negotiated_timeout_ms() const;

  // The operations return the ZkError as well so callers can tell "no node" from trouble.
  ZkError Get(const std::string& path, std::string* data, ZkStat* stat = nullptr, Status* why = nullptr);
  ZkError Children(const std::string& path, std::vector<std::string>* out, Status* why = nullptr);
  ZkError Exists(const std::string& path, ZkStat* stat = nullptr, Status* why = nullptr);
  ZkError Create(const std::string& path, const std::string& data, bool ephemeral, Status* why = nullptr);
  // version -1: unconditional.
  ZkError Set(const std::string& path, const std::string& data, int version = -1, Status* why = nullptr);
  ZkError Delete(const std::string& path, int version = -1, Status* why = nullptr);
  // Creates `path` and its missing parents as persistent znodes with empty data.
  Status EnsurePath(const std::string& path);
  // A persistent sequential create, answered through `done` (the error and the created name)
  // on the C client's completion thread, also when the handle closes first (then with
  // kConnectionLoss). Returns false when it could not be sent at all.
  bool CreateSequentialAsync(const std::string& prefix, const std::string& data,
                             std::function<void(ZkError, const std::string&)> done);
  // ZooKeeper's sync: the server this session is connected to catches up with the leader
  // for `path`. Waits at most `wait`.
  ZkError Sync(const std::string& path, std::chrono::milliseconds wait, Status* why = nullptr);

  const std::string& connect_string() const { return options_.connect; }

 private:
  static void Watcher(zhandle_t* zh, int type, int state, const char* path, void* ctx);
  ZkError Map(int rc, const std::string& what, const std::string& path, Status* why) const;
  zhandle_t* handle() const;

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  zhandle_t* zh_ = nullptr;  // GUARDED_BY(mu_)
  ZkSessionState state_ = ZkSessionState::kClosed;
};

}  // namespace faultline

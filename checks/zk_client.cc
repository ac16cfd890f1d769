#include "checks/zk_client.h"

// The synchronous calls are declared only for the multi-threaded library.
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper.h>

#include <cstring>
#include <memory>

namespace faultline {
namespace {

std::mutex g_log_mu;
std::function<void(const std::string&)>* g_log_sink = nullptr;

void LibraryLog(const char* message) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  if (g_log_sink && *g_log_sink) (*g_log_sink)(message ? message : "");
}

std::string ZkErrorText(int rc) {
  const char* s = zerror(rc);
  return s ? s : ("error " + std::to_string(rc));
}

}  // namespace

void SetZkLibraryLog(std::function<void(const std::string& line)> sink) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  delete g_log_sink;
  g_log_sink = new std::function<void(const std::string&)>(std::move(sink));
}

const char* ZkSessionStateName(ZkSessionState s) {
  switch (s) {
    case ZkSessionState::kConnecting: return "connecting";
    case ZkSessionState::kConnected: return "connected";
    case ZkSessionState::kDisconnected: return "disconnected";
    case ZkSessionState::kExpired: return "expired";
    case ZkSessionState::kClosed: return "closed";
  }
  return "?";
}

ZkClient::ZkClient(Options options) : options_(std::move(options)) {}

ZkClient::~ZkClient() { Close(); }

void ZkClient::Watcher(zhandle_t*, int type, int state, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* self = static_cast<ZkClient*>(ctx);
  ZkSessionState next;
  if (state == ZOO_CONNECTED_STATE) {
    next = ZkSessionState::kConnected;
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    next = ZkSessionState::kExpired;
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    next = ZkSessionState::kExpired;
  } else {
    next = ZkSessionState::kDisconnected;
  }
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->state_ == ZkSessionState::kClosed) return;
    self->state_ = next;
  }
  self->cv_.notify_all();
  if (self->options_.on_state) self->options_.on_state(next);
}

Status ZkClient::Connect(std::chrono::milliseconds wait) {
  Close();
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = ZkSessionState::kConnecting;
  }
  zhandle_t* zh = zookeeper_init2(options_.connect.c_str(), &ZkClient::Watcher,
                                  static_cast<int>(options_.session_timeout.count()), nullptr,
                                  this, 0, &LibraryLog);
  if (!zh) {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = ZkSessionState::kClosed;
    return Status::Unavailable("zookeeper " + options_.connect + ": cannot create a client: " +
                               std::strerror(errno));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    zh_ = zh;
  }
  if (!WaitConnected(wait)) {
    return Status::Unavailable("zookeeper " + options_.connect + ": no session within " +
                               std::to_string(wait.count()) + " ms (state " +
                               ZkSessionStateName(state()) + ")");
  }
  return Status::Ok();
}

bool ZkClient::WaitConnected(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] {
    return state_ == ZkSessionState::kConnected || state_ == ZkSessionState::kExpired ||
           state_ == ZkSessionState::kClosed;
  });
  return state_ == ZkSessionState::kConnected;
}

void ZkClient::Close() {
  zhandle_t* zh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    zh = zh_;
    zh_ = nullptr;
    state_ = ZkSessionState::kClosed;
  }
  cv_.notify_all();
  if (zh) zookeeper_close(zh);
}

ZkSessionState ZkClient::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

zhandle_t* ZkClient::handle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return zh_;
}

long long ZkClient::session_id() const {
  zhandle_t* zh = handle();
  if (!zh) return 0;
  const clientid_t* id = zoo_client_id(zh);
  return id ? id->client_id : 0;
}

std::string ZkClient::current_server() const {
  zhandle_t* zh = handle();
  if (!zh) return "";
  const char* s = zoo_get_current_server(zh);  // the client's own buffer: copied at once
  return s ? std::string(s) : std::string();
}

int ZkClient::negotiated_timeout_ms() const {
  zhandle_t* zh = handle();
  return zh ? zoo_recv_timeout(zh) : 0;
}

namespace {

ZkError ErrorOf(int rc) {
  switch (rc) {
    case ZOK: return ZkError::kOk;
    case ZNONODE: return ZkError::kNoNode;
    case ZNODEEXISTS: return ZkError::kNodeExists;
    case ZBADVERSION: return ZkError::kBadVersion;
    case ZNOTEMPTY: return ZkError::kNotEmpty;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: return ZkError::kConnectionLoss;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE: return ZkError::kSessionExpired;
    default: return ZkError::kOther;
  }
}

}  // namespace

ZkError ZkClient::Map(int rc, const std::string& what, const std::string& path, Status* why) const {
  const ZkError e = ErrorOf(rc);
  if (e == ZkError::kOk) return e;
  if (why) {
    std::string msg = "zookeeper " + options_.connect + ": " + what + " " + path + ": " + ZkErrorText(rc);
    *why = (e == ZkError::kNoNode) ? Status::NotFound(msg) : Status::Unavailable(msg);
  }
  return e;
}

static void CopyStat(const struct Stat& s, ZkStat* out) {
  if (!out) return;
  out->czxid = s.czxid;
  out->mzxid = s.mzxid;
  out->version = s.version;
  out->ephemeral_owner = s.ephemeralOwner;
  out->num_children = s.numChildren;
}

ZkError ZkClient::Get(const std::string& path, std::string* data, ZkStat* stat, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "get", path, why);
  std::vector<char> buf(64 * 1024);
  for (int attempt = 0; attempt < 3; ++attempt) {
    int len = static_cast<int>(buf.size());
    struct Stat s;
    std::memset(&s, 0, sizeof s);
    int rc = zoo_get(zh, path.c_str(), 0, buf.data(), &len, &s);
    if (rc != ZOK) return Map(rc, "get", path, why);
    if (s.dataLength > static_cast<int>(buf.size())) {
      buf.resize(static_cast<size_t>(s.dataLength));
      continue;
    }
    data->assign(buf.data(), len < 0 ? 0 : static_cast<size_t>(len));
    CopyStat(s, stat);
    return ZkError::kOk;
  }
  return Map(ZMARSHALLINGERROR, "get", path, why);
}

ZkError ZkClient::Children(const std::string& path, std::vector<std::string>* out, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "get children of", path, why);
  struct String_vector v;
  std::memset(&v, 0, sizeof v);
  int rc = zoo_get_children(zh, path.c_str(), 0, &v);
  if (rc != ZOK) return Map(rc, "get children of", path, why);
  out->clear();
  for (int i = 0; i < v.count; ++i) out->push_back(v.data[i]);
  deallocate_String_vector(&v);
  return ZkError::kOk;
}

ZkError ZkClient::Exists(const std::string& path, ZkStat* stat, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "exists", path, why);
  struct Stat s;
  std::memset(&s, 0, sizeof s);
  int rc = zoo_exists(zh, path.c_str(), 0, &s);
  if (rc != ZOK) return Map(rc, "exists", path, why);
  CopyStat(s, stat);
  return ZkError::kOk;
}

ZkError ZkClient::Create(const std::string& path, const std::string& data, bool ephemeral, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "create", path, why);
  int rc = zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                      &ZOO_OPEN_ACL_UNSAFE, ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT, nullptr, 0);
  return Map(rc, "create", path, why);
}

ZkError ZkClient::Set(const std::string& path, const std::string& data, int version, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "set", path, why);
  int rc = zoo_set(zh, path.c_str(), data.data(), static_cast<int>(data.size()), version);
  return Map(rc, "set", path, why);
}

ZkError ZkClient::Delete(const std::string& path, int version, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "delete", path, why);
  int rc = zoo_delete(zh, path.c_str(), version);
  return Map(rc, "delete", path, why);
}

Status ZkClient::EnsurePath(const std::string& path) {
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string prefix = path.substr(0, next);
    Status why;
    ZkError e = Create(prefix, "", false, &why);
    if (e != ZkError::kOk && e != ZkError::kNodeExists) return why;
    pos = next + 1;
  }
  return Status::Ok();
}

namespace {

struct CreateCall {
  std::function<void(ZkError, const std::string&)> done;
};

struct SyncCall {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  int rc = ZOK;
};

}  // namespace

bool ZkClient::CreateSequentialAsync(const std::string& prefix, const std::string& data,
                                     std::function<void(ZkError, const std::string&)> done) {
  zhandle_t* zh = handle();
  if (!zh) return false;
  auto* call = new CreateCall{std::move(done)};
  int rc = zoo_acreate(
      zh, prefix.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE,
      [](int rc, const char* value, const void* ctx) {
        std::unique_ptr<CreateCall> c(static_cast<CreateCall*>(const_cast<void*>(ctx)));
        // A handle closing first answers ZCLOSING: the write's fate is as unknown as after a
        // lost connection.
        c->done(rc == ZCLOSING ? ZkError::kConnectionLoss : ErrorOf(rc),
                rc == ZOK && value ? std::string(value) : std::string());
      },
      call);
  if (rc != ZOK) {
    delete call;
    return false;
  }
  return true;
}

ZkError ZkClient::Sync(const std::string& path, std::chrono::milliseconds wait, Status* why) {
  zhandle_t* zh = handle();
  if (!zh) return Map(ZINVALIDSTATE, "sync", path, why);
  // Shared with the completion, which may come after we gave up waiting.
  auto* call = new std::shared_ptr<SyncCall>(std::make_shared<SyncCall>());
  std::shared_ptr<SyncCall> mine = *call;
  int rc = zoo_async(
      zh, path.c_str(),
      [](int rc, const char*, const void* ctx) {
        std::unique_ptr<std::shared_ptr<SyncCall>> c(
            static_cast<std::shared_ptr<SyncCall>*>(const_cast<void*>(ctx)));
        std::lock_guard<std::mutex> lock((*c)->mu);
        (*c)->finished = true;
        (*c)->rc = rc;
        (*c)->cv.notify_all();
      },
      call);
  if (rc != ZOK) {
    delete call;
    return Map(rc, "sync", path, why);
  }
  std::unique_lock<std::mutex> lock(mine->mu);
  if (!mine->cv.wait_for(lock, wait, [&] { return mine->finished; })) {
    return Map(ZOPERATIONTIMEOUT, "sync", path, why);
  }
  return Map(mine->rc, "sync", path, why);
}

}  // namespace faultline

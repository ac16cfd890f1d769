#include "services/elector.h"

#include "checks/hdfs_znodes.h"

namespace faultline::svc {
namespace {
constexpr const char* kLogger = "org.apache.hadoop.ha.ActiveStandbyElector";

std::string HexBytes(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}
}  // namespace

Elector::Elector(std::string connect, int session_timeout_ms, std::string dir, std::string my_data,
                 Callbacks callbacks)
    : connect_(std::move(connect)),
      timeout_ms_(session_timeout_ms),
      dir_(std::move(dir)),
      lock_(dir_ + "/" + kElectorLock),
      crumb_(dir_ + "/" + kElectorBreadCrumb),
      my_data_(std::move(my_data)),
      cb_(std::move(callbacks)) {}

void Elector::NewSession() {
  session_ = std::make_unique<Session>(connect_, timeout_ms_, kLogger);
  session_->on_disconnected = [] {
    Log::Get().Info(kLogger, "Session disconnected. Entering neutral mode...");
  };
  session_->on_connected = [] { Log::Get().Info(kLogger, "Session connected."); };
  session_->on_expired = [] {
    Log::Get().Info(kLogger, "Session expired. Entering neutral mode and rejoining...");
  };
  // The wait is short: the loop keeps ticking, and a session that connects later is used then.
  Status st = session_->Start(std::chrono::milliseconds(timeout_ms_));
  if (!st.ok()) Log::Get().Warn(kLogger, "Unable to connect to ZooKeeper: " + st.message());
}

void Elector::Neutral(const std::string& why) {
  if (!neutral_) Log::Get().Info(kLogger, why);
  neutral_ = true;
}

void Elector::Tick(bool want_active) {
  if (!session_) NewSession();
  if (session_->expired()) {
    // The lock was an ephemeral of the dead session: it is gone, and someone else may
    // already be active. Step down before rejoining with a new session.
    if (have_lock_) {
      have_lock_ = false;
      cb_.become_standby();
    }
    standby_announced_ = false;
    NewSession();
    return;
  }
  if (!session_->connected()) {
    Neutral("Not connected to ZooKeeper; no election can happen until the session is back");
    return;
  }
  neutral_ = false;
  ZkClient& zk = session_->zk();
  if (!want_active) {
    if (have_lock_) {
      Log::Get().Info(kLogger, "Yielding from election");
      zk.Delete(lock_);
      have_lock_ = false;
      cb_.become_standby();
    }
    return;
  }
  if (have_lock_) {
    ZkStat st;
    ZkError e = zk.Exists(lock_, &st);
    if (e == ZkError::kNoNode || (e == ZkError::kOk && st.ephemeral_owner != zk.session_id())) {
      Log::Get().Warn(kLogger, "Lock " + lock_ + " is no longer ours; becoming standby");
      have_lock_ = false;
      cb_.become_standby();
    }
    return;
  }
  if (NowMs() < retry_after_ms_) return;
  TryBecomeActive();
}

void Elector::TryBecomeActive() {
  ZkClient& zk = session_->zk();
  Status why;
  if (!zk.EnsurePath(dir_).ok()) return;
  ZkError e = zk.Create(lock_, my_data_, true, &why);
  if (e == ZkError::kNodeExists) {
    if (!standby_announced_) {
      Log::Get().Info(kLogger, "Lock " + lock_ + " is held by another node; becoming standby");
      standby_announced_ = true;
      cb_.become_standby();
    }
    return;
  }
  if (e != ZkError::kOk) {
    Log::Get().Warn(kLogger, "Could not create " + lock_ + ": " + why.message());
    return;
  }
  have_lock_ = true;
  standby_announced_ = false;
  Log::Get().Info(kLogger, "Checking for any old active which needs to be fenced...");
  std::string old;
  ZkStat crumb_stat;
  e = zk.Get(crumb_, &old, &crumb_stat, &why);
  if (e == ZkError::kOk && old != my_data_) {
    Log::Get().Info(kLogger, "Old node exists: " + HexBytes(old));
    if (!cb_.fence(old)) {
      Log::Get().Error(kLogger, "Unable to fence the old active; giving up the lock and retrying");
      zk.Delete(lock_);
      have_lock_ = false;
      retry_after_ms_ = NowMs() + 1000;
      return;
    }
  } else if (e != ZkError::kOk && e != ZkError::kNoNode) {
    Log::Get().Warn(kLogger, "Could not read " + crumb_ + ": " + why.message());
    zk.Delete(lock_);
    have_lock_ = false;
    return;
  }
  Log::Get().Info(kLogger, "Writing znode " + crumb_ + " to indicate that the local node is the most recent active...");
  e = (e == ZkError::kNoNode) ? zk.Create(crumb_, my_data_, false, &why)
                              : zk.Set(crumb_, my_data_, crumb_stat.version, &why);
  if (e != ZkError::kOk) {
    Log::Get().Warn(kLogger, "Could not write " + crumb_ + ": " + why.message());
    zk.Delete(lock_);
    have_lock_ = false;
    return;
  }
  if (!cb_.become_active()) {
    Log::Get().Error(kLogger, "Could not become active; giving up the lock");
    zk.Delete(lock_);
    have_lock_ = false;
    retry_after_ms_ = NowMs() + 1000;
  }
}

void Elector::QuitGracefully() {
  if (session_ && session_->connected() && have_lock_) {
    session_->zk().Delete(crumb_);
    session_->zk().Delete(lock_);
  }
  have_lock_ = false;
}

}  // namespace faultline::svc

// Hadoop's ActiveStandbyElector, as the ZKFC and the ResourceManager use it: whoever creates
// the ephemeral ActiveStandbyElectorLock is active; before acting, the winner reads the
// persistent ActiveBreadCrumb and, if it names someone else, fences that node; then it
// writes its own breadcrumb. A node that gives up the lock because its service is unhealthy
// leaves the breadcrumb, so the next winner fences it; a node that steps down cleanly
// deletes it.
//
// Driven by Tick() from one thread. In neutral mode (ZooKeeper unreachable) it changes
// nothing: without a quorum nobody fails over.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "services/common.h"

namespace faultline::svc {

class Elector {
 public:
  struct Callbacks {
    std::function<bool()> become_active;  // false: could not; the lock is released
    std::function<void()> become_standby;
    // Fences the node described by the breadcrumb's data; false: fencing failed.
    std::function<bool(const std::string& breadcrumb)> fence;
  };

  Elector(std::string connect, int session_timeout_ms, std::string dir, std::string my_data,
          Callbacks callbacks);
  // One step: (re)connect, join or leave the election according to `want_active`.
  void Tick(bool want_active);
  bool active() const { return have_lock_; }
  // Leaves the election on purpose; deletes the breadcrumb too (a clean step-down).
  void QuitGracefully();
  ZkClient* zk() { return session_ ? &session_->zk() : nullptr; }
  long long session_id() { return session_ ? session_->zk().session_id() : 0; }

 private:
  void NewSession();
  void TryBecomeActive();
  void Neutral(const std::string& why);

  std::string connect_;
  int timeout_ms_;
  std::string dir_, lock_, crumb_;
  std::string my_data_;
  Callbacks cb_;
  std::unique_ptr<Session> session_;
  bool have_lock_ = false;
  bool standby_announced_ = false;
  bool neutral_ = false;
  bool fenced_wait_ = false;
  long long retry_after_ms_ = 0;
};

}  // namespace faultline::svc

#include "coord/zab/config.h"

#include <set>
#include <string>

namespace faultline::zab {

Status PeerConfig::Validate() const {
  std::string who = "server " + std::to_string(id);
  if (id == 0) return Status::Invalid("server id 0 is reserved; myid must be 1 or more");
  if (voters.empty()) return Status::Invalid(who + ": the ensemble has no voting member");
  std::set<ServerId> seen;
  for (ServerId sid : voters) {
    if (sid == 0) return Status::Invalid(who + ": server id 0 is reserved");
    if (!seen.insert(sid).second) return Status::Invalid(who + ": server " + std::to_string(sid) + " listed twice");
  }
  for (ServerId sid : observers) {
    if (sid == 0) return Status::Invalid(who + ": server id 0 is reserved");
    if (!seen.insert(sid).second) {
      return Status::Invalid(who + ": server " + std::to_string(sid) + " is listed as voter and observer");
    }
  }
  if (!IsMember(id)) return Status::Invalid(who + ": not in its own ensemble (no server." + std::to_string(id) + " line)");
  if (tick_ms <= 0 || tick_time_ms <= 0) return Status::Invalid(who + ": tick lengths must be positive");
  if (init_limit <= 0 || sync_limit <= 0) {
    return Status::Invalid(who + ": initLimit and syncLimit must be at least 1");
  }
  if (finalize_wait_ms <= 0 || max_notification_interval_ms < finalize_wait_ms) {
    return Status::Invalid(who + ": need 0 < finalizeWait <= maxNotificationInterval");
  }
  return Status::Ok();
}

}  // namespace faultline::zab

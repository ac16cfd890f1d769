// The ensemble as one server sees it, and ZooKeeper's timing knobs.
//
// Time reaches the core only through Peer::Tick(); one tick is tick_ms milliseconds of the
// caller's clock. zoo.cfg's tickTime, initLimit and syncLimit keep ZooKeeper's meaning:
// a learner has initLimit * tickTime to connect and sync, and syncLimit * tickTime of silence
// is tolerated afterwards, in both directions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "coord/zab/types.h"

namespace faultline::zab {

struct PeerConfig {
  ServerId id = 0;
  std::vector<ServerId> voters;     // participants (server.N=host:p:e)
  std::vector<ServerId> observers;  // server.N=host:p:e:observer

  int tick_ms = 50;          // length of one Tick()
  int tick_time_ms = 2000;   // zoo.cfg tickTime
  int init_limit = 10;       // zoo.cfg initLimit, in tickTime units
  int sync_limit = 5;        // zoo.cfg syncLimit, in tickTime units
  int finalize_wait_ms = 200;                  // FLE settling wait (ZooKeeper's finalizeWait)
  int max_notification_interval_ms = 60000;    // FLE back-off ceiling

  // Distinguishes this process's learner connections from those of its earlier lives; the
  // server passes something that grows across restarts (boot time), the simulator a counter.
  uint64_t incarnation = 0;

  // REQUIRES: nothing. Says what is wrong, naming the server.
  Status Validate() const;

  bool IsVoter(ServerId sid) const {
    return std::find(voters.begin(), voters.end(), sid) != voters.end();
  }
  bool IsObserver(ServerId sid) const {
    return std::find(observers.begin(), observers.end(), sid) != observers.end();
  }
  bool IsMember(ServerId sid) const { return IsVoter(sid) || IsObserver(sid); }
  // A strict majority of the voters: 2 of 3, 3 of 5, 4 of 6.
  size_t Quorum() const { return voters.size() / 2 + 1; }
  // Milliseconds as whole ticks, never less than one.
  int64_t Ticks(int64_t ms) const { return std::max<int64_t>(1, (ms + tick_ms - 1) / tick_ms); }
};

}  // namespace faultline::zab

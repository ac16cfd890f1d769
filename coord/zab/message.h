// Messages between ensemble members: Fast Leader Election notifications (the election port)
// and the learner protocol (the quorum port), with ZooKeeper's packet names.
//
// The core never assumes the network is kind: a message may be lost, duplicated, delayed or
// reordered. Leader-to-learner traffic rides a "connection" (conn) with sequence numbers, the
// way a TCP stream would, so that a learner notices a gap and reconnects instead of applying a
// stream with a hole in it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coord/zab/types.h"

namespace faultline::zab {

enum class MsgType : uint8_t {
  kNotification,  // FLE vote
  // learner -> leader
  kFollowerInfo,  // conn, epoch = acceptedEpoch, accepted_leader, zxid = last logged
  kObserverInfo,  // as FOLLOWERINFO, from an observer
  kAckEpoch,      // epoch = currentEpoch, zxid = last logged (durable)
  kAck,           // zxid: everything up to here is durable (NEWLEADER or a proposal)
  kRequest,       // txn: a client write forwarded to the leader
  // leader -> learner
  kLeaderInfo,  // epoch = the new epoch
  kDiff,        // zxid: the learner's log already ends at a point the leader knows
  kTrunc,       // zxid: drop everything after this
  kSnap,        // snapshot replaces the learner's state
  kProposal,    // txn
  kCommit,      // zxid
  kInform,      // txn, to observers: committed
  kNewLeader,   // epoch, zxid = the leader's last zxid when the sync stream was built
  kUpToDate,    // commit: start serving
  // both ways: a client's sync. learner -> leader: request = its id; leader -> learner:
  // request, and zxid = the leader's last proposed zxid, which the learner applies before
  // answering (what ZooKeeper's leader does by queueing SYNC behind outstanding proposals).
  kSync,
  // both ways
  kPing,  // leader -> learner: commit; learner -> leader: zxid = durable (a cumulative ack),
          // sessions = client sessions active on the learner since its last ping
  // network -> self, never on the wire: every connection from `from` closed (its process
  // died or it dropped the link). A learner whose leader's link closes stops following at
  // once instead of waiting out syncLimit, as ZooKeeper's does on EOF; a leader forgets the
  // learner, so losing its quorum is noticed on the next tick.
  kLinkDown,
};

const char* MsgTypeName(MsgType type);

struct Vote {
  ServerId leader = 0;
  Zxid zxid = 0;
  uint64_t round = 0;  // the election epoch (ZooKeeper's logicalclock / n.round)
  uint32_t peer_epoch = 0;
  ServerState state = ServerState::kLooking;

  // Two votes agree when they name the same leader in the same election; the sender's state
  // is not part of the agreement (as ZooKeeper's Vote.equals).
  bool SameAs(const Vote& other) const {
    return leader == other.leader && zxid == other.zxid && round == other.round &&
           peer_epoch == other.peer_epoch;
  }
};

// ACKEPOCH's epoch from a learner that already acknowledged this epoch number for another
// leader: it cannot vote for the epoch again, but it syncs with this leader (ZooKeeper's -1).
inline constexpr uint32_t kNoEpochVote = 0xffffffffu;

struct Message {
  MsgType type = MsgType::kPing;
  ServerId from = 0;
  ServerId to = 0;

  Vote vote;  // kNotification

  uint64_t conn = 0;  // learner connection this message belongs to
  uint64_t seq = 0;   // position in that connection's stream, from 1, per direction
  // The epoch of the leadership a learner-protocol message belongs to (0 before LEADERINFO).
  // A leader that steps down and wins again reuses its learners' connections; this keeps the
  // two lives' streams apart.
  uint32_t leader_epoch = 0;
  uint32_t epoch = 0;
  ServerId accepted_leader = 0;
  Zxid zxid = 0;
  Zxid commit = 0;
  Txn txn;
  SnapshotData snapshot;
  // kPing from a learner: the sessions it saw activity on since its previous ping, as
  // ZooKeeper's learners report touched sessions to the leader.
  std::vector<uint64_t> sessions;
  uint64_t request = 0;  // kSync: the learner's id for the client's sync

  // One line, stable across runs: the script tests compare it with golden files.
  std::string ToString() const;
};

}  // namespace faultline::zab

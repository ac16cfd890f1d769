// The follower's and observer's side: connect (FOLLOWERINFO / OBSERVERINFO), accept the new
// epoch once, sync (DIFF, TRUNC, SNAP, then the streamed proposals and NEWLEADER), serve after
// UPTODATE, acknowledge proposals only once they are durable, and go LOOKING when the leader
// has been silent for initLimit ticks (while syncing) or syncLimit ticks (while serving).
#include <algorithm>
#include <string>

#include "coord/zab/peer.h"

namespace faultline::zab {

void Peer::StartLearning() {
  leader_ = current_vote_.leader;
  learner_phase_ = LearnerPhase::kInfo;
  conn_ = (config_.incarnation << 32) | ++conn_counter_;
  out_seq_ = 0;
  next_in_seq_ = 1;
  reorder_.clear();
  staged_snapshot_.reset();
  staged_log_.clear();
  touched_.clear();  // a new connection starts a new session report
  last_heard_ = now_;
  leader_epoch_ = 0;
  const int64_t tick_time = config_.Ticks(config_.tick_time_ms);
  next_info_ = now_ + tick_time;
  Message info;
  info.type = config_.IsVoter(config_.id) ? MsgType::kFollowerInfo : MsgType::kObserverInfo;
  info.epoch = hs_.accepted_epoch;
  info.accepted_leader = hs_.accepted_leader;
  info.zxid = LastZxid();
  SendToLeader(std::move(info), false);
}

void Peer::SendToLeader(Message msg, bool after_persist) {
  msg.to = leader_;
  msg.conn = conn_;
  msg.seq = ++out_seq_;
  msg.leader_epoch = leader_epoch_;
  if (after_persist) {
    SendAfterPersist(std::move(msg));
  } else {
    Send(std::move(msg));
  }
}

void Peer::Reconnect(const std::string& why) {
  Log(Event::Level::kWarn, "Reconnecting to leader " + std::to_string(leader_) + ": " + why);
  SetServing(false);
  int64_t heard = last_heard_;
  StartLearning();
  last_heard_ = heard;  // a reconnect does not make a silent leader any less silent
}

void Peer::LearnerFail(const std::string& why) {
  Log(Event::Level::kWarn, "Exception when following the leader: " + why);
  StartLooking();
}

void Peer::LearnerStep(const Message& msg) {
  if (msg.from != leader_ || msg.conn != conn_) return;
  if (leader_epoch_ == 0) {
    // Until LEADERINFO names the leadership this stream belongs to, nothing else can be
    // trusted to be part of it: a leader that stepped down and won again reuses our
    // connection, and packets of its earlier life may still be on the way.
    if (msg.type != MsgType::kLeaderInfo || msg.seq != 1) return;
  } else if (msg.leader_epoch != leader_epoch_) {
    if (msg.leader_epoch > leader_epoch_) Reconnect("the leader started over in epoch 0x" + Hex(msg.leader_epoch));
    return;
  }
  last_heard_ = now_;
  if (msg.seq < next_in_seq_) return;  // a repeat
  if (msg.seq > next_in_seq_) {
    // Ahead of a gap: hold it until the gap fills or LearnerTick gives up on it.
    if (reorder_.empty()) gap_since_ = now_;
    reorder_.emplace(msg.seq, msg);
    if (reorder_.size() > 4096) Reconnect("too many packets out of order");
    return;
  }
  const uint64_t conn = conn_;
  LearnerProcess(msg);
  ++next_in_seq_;
  while (conn_ == conn && (state_ == ServerState::kFollowing || state_ == ServerState::kObserving) &&
         !reorder_.empty() && reorder_.begin()->first <= next_in_seq_) {
    Message next = std::move(reorder_.begin()->second);
    uint64_t seq = reorder_.begin()->first;
    reorder_.erase(reorder_.begin());
    if (seq < next_in_seq_) continue;
    LearnerProcess(next);
    ++next_in_seq_;
  }
  if (!reorder_.empty()) gap_since_ = now_;
}

void Peer::LearnerProcess(const Message& msg) {
  const bool voter = config_.IsVoter(config_.id);
  switch (msg.type) {
    case MsgType::kLeaderInfo: {
      if (learner_phase_ != LearnerPhase::kInfo) return;
      bool vote = true;
      if (msg.epoch > hs_.accepted_epoch) {
        HardState hs = hs_;
        hs.accepted_epoch = msg.epoch;
        hs.accepted_leader = leader_;
        PersistHardState(hs);
      } else if (msg.epoch == hs_.accepted_epoch && hs_.accepted_leader != leader_) {
        // This epoch number was acknowledged for another leader (one that never got its
        // quorum): no second vote for it, but this leader, established by others, may still
        // bring us in line. Failing here instead would re-elect the same leader at once,
        // for ever.
        vote = false;
        Log(Event::Level::kInfo, "Epoch 0x" + Hex(msg.epoch) + " was accepted from leader " +
                                     std::to_string(hs_.accepted_leader) + "; syncing with leader " +
                                     std::to_string(leader_) + " without a vote for it");
      } else if (msg.epoch != hs_.accepted_epoch) {
        LearnerFail("Leaders epoch, " + std::to_string(msg.epoch) + ", is less than accepted epoch, " +
                    std::to_string(hs_.accepted_epoch));
        return;
      }
      leader_epoch_ = msg.epoch;
      learner_phase_ = LearnerPhase::kEpochAcked;
      Message ack;
      ack.type = MsgType::kAckEpoch;
      ack.epoch = vote ? hs_.current_epoch : kNoEpochVote;
      ack.zxid = LastZxid();
      SendToLeader(std::move(ack), true);
      return;
    }
    case MsgType::kDiff:
    case MsgType::kTrunc:
    case MsgType::kSnap: {
      if (learner_phase_ != LearnerPhase::kEpochAcked) return;
      if (msg.type == MsgType::kDiff) {
        Log(Event::Level::kInfo, "Getting a diff from the leader " + ZxidHex(msg.zxid));
      } else if (msg.type == MsgType::kTrunc) {
        Log(Event::Level::kWarn, "Truncating log to get in sync with the leader " + ZxidHex(msg.zxid));
        if (!TruncateAfter(msg.zxid)) {
          Log(Event::Level::kError, "Refusing to truncate to " + ZxidHex(msg.zxid) +
                                        ": transactions up to " + ZxidHex(applied_) + " are already applied");
          LearnerFail("TRUNC below the applied point");
          return;
        }
      } else {
        Log(Event::Level::kInfo, "Getting a snapshot from leader " + ZxidHex(msg.snapshot.zxid));
        staged_snapshot_ = msg.snapshot;
        staged_log_.clear();
      }
      learner_phase_ = LearnerPhase::kSyncing;
      return;
    }
    case MsgType::kProposal: {
      if (learner_phase_ < LearnerPhase::kSyncing) return;
      ++counters_.learner_proposal_received_count;
      if (staged_snapshot_) {
        Zxid last = staged_log_.empty() ? staged_snapshot_->zxid : staged_log_.back().zxid;
        if (msg.txn.zxid > last) staged_log_.push_back(msg.txn);
        return;
      }
      if (msg.txn.zxid <= LastZxid()) return;
      Append(msg.txn);
      if (voter && learner_phase_ >= LearnerPhase::kNewLeaderAcked) {
        Message ack;
        ack.type = MsgType::kAck;
        ack.zxid = msg.txn.zxid;
        SendToLeader(std::move(ack), true);
      }
      return;
    }
    case MsgType::kNewLeader: {
      if (learner_phase_ != LearnerPhase::kSyncing || msg.epoch != leader_epoch_) return;
      if (staged_snapshot_) {
        // The whole replacement is here: snapshot, log and epoch go to disk as one batch.
        InstallSnapshot(std::move(*staged_snapshot_));
        staged_snapshot_.reset();
        for (Txn& txn : staged_log_) Append(std::move(txn));
        staged_log_.clear();
      }
      HardState hs = hs_;
      hs.current_epoch = msg.epoch;
      PersistHardState(hs);
      learner_phase_ = LearnerPhase::kNewLeaderAcked;
      Message ack;
      ack.type = MsgType::kAck;
      ack.zxid = msg.zxid;
      SendToLeader(std::move(ack), true);
      return;
    }
    case MsgType::kUpToDate:
      if (learner_phase_ != LearnerPhase::kNewLeaderAcked) return;
      learner_phase_ = LearnerPhase::kServing;
      counters_.last_sync_ms = (now_ - decided_at_) * config_.tick_ms;
      commit_ = std::max(commit_, std::min(msg.commit, LastZxid()));
      SetServing(true);
      return;
    case MsgType::kSync:
      if (syncs_.erase(msg.request)) ready_.syncs.push_back({msg.request, msg.zxid, true});
      return;
    case MsgType::kCommit:
      if (learner_phase_ < LearnerPhase::kNewLeaderAcked) return;
      ++counters_.learner_commit_received_count;
      commit_ = std::max(commit_, std::min(msg.zxid, LastZxid()));
      return;
    case MsgType::kInform:
      if (learner_phase_ < LearnerPhase::kNewLeaderAcked) return;
      if (msg.txn.zxid > LastZxid()) Append(msg.txn);
      commit_ = std::max(commit_, msg.txn.zxid);
      return;
    case MsgType::kPing: {
      bool synced = learner_phase_ >= LearnerPhase::kNewLeaderAcked;
      if (synced) commit_ = std::max(commit_, std::min(msg.commit, LastZxid()));
      Message pong;
      pong.type = MsgType::kPing;
      pong.zxid = synced ? durable_zxid_ : 0;
      pong.sessions.assign(touched_.begin(), touched_.end());
      touched_.clear();
      SendToLeader(std::move(pong), false);
      return;
    }
    default:
      return;
  }
}

void Peer::LearnerTick() {
  const int64_t tick_time = config_.Ticks(config_.tick_time_ms);
  // Half the sync limit: long enough for a late packet to fill the gap, short enough to
  // reconnect and resync before the leader counts us out.
  const int64_t gap_patience = std::max<int64_t>(1, config_.sync_limit * tick_time / 2);
  if (!reorder_.empty() && now_ - gap_since_ >= gap_patience) {
    Reconnect("packets from the leader are missing");
    return;
  }
  const int64_t limit = (learner_phase_ == LearnerPhase::kServing ? config_.sync_limit : config_.init_limit) * tick_time;
  if (now_ - last_heard_ > limit) {
    LearnerFail("read timed out after " + std::to_string(limit * config_.tick_ms) + " ms from leader " +
                std::to_string(leader_));
    return;
  }
  if (learner_phase_ == LearnerPhase::kInfo && now_ >= next_info_) {
    next_info_ = now_ + tick_time;
    Message info;
    info.type = config_.IsVoter(config_.id) ? MsgType::kFollowerInfo : MsgType::kObserverInfo;
    info.epoch = hs_.accepted_epoch;
    info.accepted_leader = hs_.accepted_leader;
    info.zxid = LastZxid();
    SendToLeader(std::move(info), false);
  }
}

}  // namespace faultline::zab

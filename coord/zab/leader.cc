// The leader's side of ZooKeeper Atomic Broadcast.
//
// Discovery: gather FOLLOWERINFO from a quorum, propose epoch = max(acceptedEpoch) + 1, wait for
// a quorum of ACKEPOCH. Synchronization: bring each learner in line with DIFF, TRUNC (of a tail
// the leader never had) or SNAP, stream the missing proposals, then NEWLEADER; a quorum of
// NEWLEADER acks commits the leader's initial history and the leader starts serving.
// Broadcast: proposal, durable acks from a quorum, COMMIT to followers and INFORM to observers.
// A leader that cannot hear a quorum for syncLimit ticks stops serving and goes LOOKING.
#include <algorithm>
#include <string>

#include "coord/zab/peer.h"

namespace faultline::zab {

namespace {

std::string SidList(const std::vector<ServerId>& sids) {
  std::string out;
  for (ServerId sid : sids) {
    if (!out.empty()) out += ",";
    out += std::to_string(sid);
  }
  return out;
}

}  // namespace

void Peer::StartLeading() {
  leader_ = config_.id;
  leader_phase_ = LeaderPhase::kDiscovery;
  epoch_ = 0;
  counter_ = 0;
  learners_.clear();
  phase_start_ = now_;
  next_ping_ = now_;
  DecideEpochIfQuorum();
}

void Peer::SendToLearner(LearnerHandle& handle, Message msg) {
  msg.to = handle.sid;
  msg.conn = handle.conn;
  msg.leader_epoch = epoch_;
  msg.seq = ++handle.out_seq;
  Send(std::move(msg));
}

void Peer::StepDown(const std::string& reason) {
  Log(Event::Level::kWarn, "Shutdown called. For the reason " + reason);
  StartLooking();
}

void Peer::LeaderStep(const Message& msg) {
  if (msg.type == MsgType::kFollowerInfo || msg.type == MsgType::kObserverInfo) {
    bool observer = msg.type == MsgType::kObserverInfo;
    if (observer != config_.IsObserver(msg.from)) return;  // a learner with another config
    auto it = learners_.find(msg.from);
    if (it != learners_.end() && msg.conn <= it->second.conn) {
      if (msg.conn == it->second.conn) it->second.last_heard = now_;
      return;  // a repeat, or a connection already replaced
    }
    LearnerHandle handle;
    handle.sid = msg.from;
    handle.observer = observer;
    handle.conn = msg.conn;
    handle.accepted_epoch = msg.epoch;
    handle.accepted_leader = msg.accepted_leader;
    handle.last_heard = now_;
    LearnerHandle& h = learners_[msg.from] = handle;
    if (leader_phase_ == LeaderPhase::kDiscovery) {
      DecideEpochIfQuorum();
      return;
    }
    if (h.accepted_epoch > epoch_) {
      Log(Event::Level::kWarn, "Learner sid: " + std::to_string(h.sid) + " has accepted epoch 0x" +
                                   Hex(h.accepted_epoch) + ", ours is 0x" + Hex(epoch_) +
                                   "; it will not follow this leader");
    } else if (h.accepted_epoch == epoch_ && h.accepted_leader != config_.id) {
      Log(Event::Level::kInfo, "Learner sid: " + std::to_string(h.sid) + " accepted epoch 0x" + Hex(epoch_) +
                                   " from another leader; it syncs without a vote for it");
    }
    Message info;
    info.type = MsgType::kLeaderInfo;
    info.epoch = epoch_;
    SendToLearner(h, std::move(info));
    h.leaderinfo_sent = true;
    return;
  }

  auto it = learners_.find(msg.from);
  // Same connection and the same life of this leadership: anything else is stale.
  if (it == learners_.end() || it->second.conn != msg.conn || msg.leader_epoch != epoch_) return;
  LearnerHandle& h = it->second;
  h.last_heard = now_;
  switch (msg.type) {
    case MsgType::kAckEpoch: {
      if (!h.leaderinfo_sent || h.epoch_acked) return;
      const bool vote = msg.epoch != kNoEpochVote;
      if (vote && (msg.epoch > hs_.current_epoch || (msg.epoch == hs_.current_epoch && msg.zxid > LastZxid()))) {
        StepDown("Follower is ahead of the leader, leader summary: " + std::to_string(hs_.current_epoch) +
                 " (current epoch), " + ZxidHex(LastZxid()) + " (last zxid)");
        return;
      }
      h.epoch_acked = true;
      h.epoch_vote = vote;
      h.current_epoch = vote ? msg.epoch : 0;
      h.last_zxid = msg.zxid;
      if (leader_phase_ == LeaderPhase::kEpochAck) {
        EstablishEpochIfQuorum();
      } else if (leader_phase_ != LeaderPhase::kDiscovery) {
        SyncLearner(h);
      }
      return;
    }
    case MsgType::kAck: {
      if (!h.newleader_sent) return;
      Zxid acked = std::min(msg.zxid, LastZxid());
      if (!h.newleader_acked) {
        if (msg.zxid < h.newleader_zxid) return;
        h.newleader_acked = true;
        h.acked = std::max(h.acked, acked);
        if (leader_phase_ == LeaderPhase::kBroadcast) {
          Message up;
          up.type = MsgType::kUpToDate;
          up.commit = commit_;
          SendToLearner(h, std::move(up));
          h.uptodate_sent = true;
        } else {
          EstablishIfQuorum();
        }
      } else {
        h.acked = std::max(h.acked, acked);
      }
      MaybeCommit();
      return;
    }
    case MsgType::kPing:
      if (h.newleader_acked && msg.zxid > h.acked) {
        h.acked = std::min(msg.zxid, LastZxid());
        MaybeCommit();
      }
      // Sessions the learner's clients used: only a serving leader tracks sessions.
      if (leader_phase_ == LeaderPhase::kBroadcast && h.uptodate_sent) {
        auto& touched = ready_.touched_sessions;
        touched.insert(touched.end(), msg.sessions.begin(), msg.sessions.end());
      }
      return;
    case MsgType::kSync:
      // Answered on the learner's stream, after every PROPOSAL and COMMIT sent before it.
      if (leader_phase_ == LeaderPhase::kBroadcast && h.uptodate_sent) {
        Message reply;
        reply.type = MsgType::kSync;
        reply.request = msg.request;
        reply.zxid = LastZxid();
        SendToLearner(h, std::move(reply));
      }
      return;
    case MsgType::kRequest:
      // Writes are the one thing a duplicated packet must not repeat.
      if (msg.seq <= h.in_seq) return;
      h.in_seq = msg.seq;
      if (leader_phase_ == LeaderPhase::kBroadcast && h.uptodate_sent) {
        Txn txn = msg.txn;
        txn.zxid = 0;
        ProposeAsLeader(std::move(txn));
      }
      return;
    default:
      return;
  }
}

void Peer::DecideEpochIfQuorum() {
  if (leader_phase_ != LeaderPhase::kDiscovery) return;
  size_t voters = config_.IsVoter(config_.id) ? 1 : 0;
  uint32_t max_epoch = hs_.accepted_epoch;
  for (const auto& [sid, h] : learners_) {
    if (!h.observer) ++voters;
    max_epoch = std::max(max_epoch, h.accepted_epoch);
  }
  if (voters < config_.Quorum()) return;
  epoch_ = max_epoch + 1;
  HardState hs = hs_;
  hs.accepted_epoch = epoch_;
  hs.accepted_leader = config_.id;
  PersistHardState(hs);
  leader_phase_ = LeaderPhase::kEpochAck;
  phase_start_ = now_;
  for (auto& [sid, h] : learners_) {
    Message info;
    info.type = MsgType::kLeaderInfo;
    info.epoch = epoch_;
    SendToLearner(h, std::move(info));
    h.leaderinfo_sent = true;
  }
}

void Peer::EstablishEpochIfQuorum() {
  if (leader_phase_ != LeaderPhase::kEpochAck) return;
  size_t acks = durable_hs_.accepted_epoch == epoch_ && durable_hs_.accepted_leader == config_.id ? 1 : 0;
  for (const auto& [sid, h] : learners_) {
    if (!h.observer && h.epoch_acked && h.epoch_vote) ++acks;
  }
  if (acks < config_.Quorum()) return;
  HardState hs = hs_;
  hs.current_epoch = epoch_;
  PersistHardState(hs);
  counter_ = 0;
  initial_last_ = LastZxid();
  leader_phase_ = LeaderPhase::kNewLeaderAck;
  phase_start_ = now_;
  for (auto& [sid, h] : learners_) {
    if (h.epoch_acked) SyncLearner(h);
  }
  EstablishIfQuorum();
}

void Peer::SyncLearner(LearnerHandle& h) {
  Zxid peer = h.last_zxid;
  size_t start = 0;
  Message head;
  bool known = peer == log_base_ ||
               (peer > log_base_ && IndexAfter(peer) > 0 && log_[IndexAfter(peer) - 1].zxid == peer);
  if (known) {
    ++counters_.diff_count;
    head.type = MsgType::kDiff;
    head.zxid = peer;
    start = IndexAfter(peer);
  } else {
    // The learner has a tail we never had. If we hold entries of the same epoch below it, the
    // learner holds them too (one leader per epoch, streamed in order): cut back to the last.
    std::optional<Zxid> cut;
    if (peer > log_base_) {
      for (size_t i = IndexAfter(peer); i-- > 0;) {
        if (EpochOf(log_[i].zxid) != EpochOf(peer)) break;
        cut = log_[i].zxid;
        break;
      }
      if (!cut && EpochOf(log_base_) == EpochOf(peer) && log_base_ < peer) cut = log_base_;
    }
    if (cut) {
      ++counters_.trunc_count;
      head.type = MsgType::kTrunc;
      head.zxid = *cut;
      start = IndexAfter(*cut);
    } else {
      ++counters_.snap_count;
      head.type = MsgType::kSnap;
      head.snapshot = snapshots_->TakeSnapshot();
      start = IndexAfter(head.snapshot.zxid);
    }
  }
  SendToLearner(h, std::move(head));
  for (size_t i = start; i < log_.size(); ++i) {
    Message prop;
    prop.type = MsgType::kProposal;
    prop.txn = log_[i];
    SendToLearner(h, std::move(prop));
  }
  Message nl;
  nl.type = MsgType::kNewLeader;
  nl.epoch = epoch_;
  nl.zxid = LastZxid();
  SendToLearner(h, std::move(nl));
  h.newleader_sent = true;
  h.newleader_zxid = LastZxid();
}

void Peer::EstablishIfQuorum() {
  if (leader_phase_ != LeaderPhase::kNewLeaderAck) return;
  std::vector<ServerId> acked;
  if (durable_hs_.current_epoch == epoch_ && durable_zxid_ >= initial_last_) acked.push_back(config_.id);
  for (const auto& [sid, h] : learners_) {
    if (!h.observer && h.newleader_acked) acked.push_back(sid);
  }
  if (acked.size() < config_.Quorum()) return;
  std::sort(acked.begin(), acked.end());
  leader_phase_ = LeaderPhase::kBroadcast;
  commit_ = std::max(commit_, initial_last_);
  Log(Event::Level::kInfo, "Have quorum of supporters, sids: [ " + SidList(acked) +
                               " ]; starting up and setting last processed zxid: " +
                               ZxidHex(MakeZxid(epoch_, 0)));
  SetServing(true);
  for (auto& [sid, h] : learners_) {
    if (!h.newleader_acked) continue;
    Message up;
    up.type = MsgType::kUpToDate;
    up.commit = commit_;
    SendToLearner(h, std::move(up));
    h.uptodate_sent = true;
  }
  next_ping_ = now_;
  MaybeCommit();
}

void Peer::LeaderAfterPersist() {
  switch (leader_phase_) {
    case LeaderPhase::kDiscovery: return;
    case LeaderPhase::kEpochAck: EstablishEpochIfQuorum(); return;
    case LeaderPhase::kNewLeaderAck: EstablishIfQuorum(); return;
    case LeaderPhase::kBroadcast: MaybeCommit(); return;
  }
}

void Peer::MaybeCommit() {
  if (leader_phase_ != LeaderPhase::kBroadcast) return;
  std::vector<Zxid> acks;
  if (config_.IsVoter(config_.id)) acks.push_back(durable_zxid_);
  for (const auto& [sid, h] : learners_) {
    if (!h.observer && h.newleader_acked) acks.push_back(h.acked);
  }
  if (acks.size() < config_.Quorum()) return;
  std::sort(acks.begin(), acks.end(), std::greater<>());
  Zxid q = std::min(acks[config_.Quorum() - 1], LastZxid());
  if (q <= commit_) return;
  Zxid old = commit_;
  commit_ = q;
  for (auto& [sid, h] : learners_) {
    if (!h.newleader_sent) continue;
    if (!h.observer) {
      Message c;
      c.type = MsgType::kCommit;
      c.zxid = q;
      SendToLearner(h, std::move(c));
      continue;
    }
    for (size_t i = IndexAfter(old); i < log_.size() && log_[i].zxid <= q; ++i) {
      Message inform;
      inform.type = MsgType::kInform;
      inform.txn = log_[i];
      SendToLearner(h, std::move(inform));
    }
  }
}

void Peer::ProposeAsLeader(Txn txn) {
  if (counter_ == 0xffffffffu) {
    // ZooKeeper's answer to an exhausted counter: a new epoch.
    StepDown("zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start");
    return;
  }
  txn.zxid = MakeZxid(epoch_, ++counter_);
  ++counters_.proposal_count;
  size_t size = txn.payload.size();
  counters_.last_proposal_size = size;
  counters_.max_proposal_size = std::max(counters_.max_proposal_size, size);
  counters_.min_proposal_size = counters_.proposal_count == 1 ? size : std::min(counters_.min_proposal_size, size);
  Append(txn);
  for (auto& [sid, h] : learners_) {
    if (h.observer || !h.newleader_sent) continue;
    Message prop;
    prop.type = MsgType::kProposal;
    prop.txn = txn;
    SendToLearner(h, std::move(prop));
  }
}

void Peer::LeaderTick() {
  const int64_t tick_time = config_.Ticks(config_.tick_time_ms);
  const int64_t init_ticks = config_.init_limit * tick_time;
  const int64_t sync_ticks = config_.sync_limit * tick_time;
  if (leader_phase_ != LeaderPhase::kBroadcast) {
    if (now_ - phase_start_ > init_ticks) {
      switch (leader_phase_) {
        case LeaderPhase::kDiscovery: StepDown("Timeout while waiting for epoch from quorum"); return;
        case LeaderPhase::kEpochAck: StepDown("Timeout while waiting for epoch to be acked by quorum"); return;
        default: StepDown("Timeout while waiting for NEWLEADER to be acked by quorum"); return;
      }
    }
  } else {
    std::vector<ServerId> synced;
    if (config_.IsVoter(config_.id)) synced.push_back(config_.id);
    for (const auto& [sid, h] : learners_) {
      if (!h.observer && h.newleader_acked && now_ - h.last_heard <= sync_ticks) synced.push_back(sid);
    }
    if (synced.size() < config_.Quorum()) {
      std::sort(synced.begin(), synced.end());
      StepDown("Not sufficient followers synced, only synced with sids: [ " + SidList(synced) + " ]");
      return;
    }
  }
  // A learner silent past its limit is gone, as a LearnerHandler whose socket read timed out.
  for (auto it = learners_.begin(); it != learners_.end();) {
    int64_t limit = it->second.uptodate_sent ? sync_ticks : init_ticks;
    if (now_ - it->second.last_heard > limit) {
      it = learners_.erase(it);
    } else {
      ++it;
    }
  }
  if (now_ >= next_ping_) {
    next_ping_ = now_ + std::max<int64_t>(1, tick_time / 2);
    for (auto& [sid, h] : learners_) {
      if (!h.leaderinfo_sent) continue;
      Message ping;
      ping.type = MsgType::kPing;
      ping.commit = h.newleader_sent ? commit_ : 0;
      SendToLearner(h, std::move(ping));
    }
  }
}

}  // namespace faultline::zab

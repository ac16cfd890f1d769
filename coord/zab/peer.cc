// The parts of the core every role shares: the log, durability bookkeeping, Ready assembly,
// and the dispatch of inputs to the role that owns them.
#include "coord/zab/peer.h"

#include <algorithm>
#include <utility>

namespace faultline::zab {

Peer::Peer(PeerConfig config, DurableState restored, SnapshotSource* snapshots)
    : config_(std::move(config)), snapshots_(snapshots) {
  hs_ = restored.hard_state;
  durable_hs_ = hs_;
  log_base_ = restored.snapshot_zxid;
  for (Txn& txn : restored.log) {
    if (txn.zxid > LastZxid()) log_.push_back(std::move(txn));
  }
  durable_zxid_ = LastZxid();
  // Only the snapshot is known to be committed: logged entries after it wait for a leader.
  commit_ = log_base_;
  applied_ = log_base_;
  StartLooking();
}

size_t Peer::IndexAfter(Zxid zxid) const {
  return static_cast<size_t>(
      std::upper_bound(log_.begin(), log_.end(), zxid,
                       [](Zxid z, const Txn& txn) { return z < txn.zxid; }) -
      log_.begin());
}

void Peer::Send(Message msg) {
  msg.from = config_.id;
  ready_.messages.push_back(std::move(msg));
}

void Peer::SendAfterPersist(Message msg) {
  msg.from = config_.id;
  uint64_t needs = 0;
  if (ready_.HasPersistence()) {
    needs = last_persist_id_ + 1;  // the id the Ready being assembled will get
  } else if (!inflight_.empty()) {
    needs = inflight_.back().id;
  }
  if (needs == 0) {
    ready_.messages.push_back(std::move(msg));
  } else {
    held_.emplace_back(needs, std::move(msg));
  }
}

void Peer::Log(Event::Level level, std::string text) {
  ready_.events.push_back(Event{level, std::move(text)});
}

void Peer::SetState(ServerState state) {
  state_ = state;
  ready_.state = state;
  Log(Event::Level::kInfo, StateName(state));
}

void Peer::SetServing(bool serving) {
  if (serving_ == serving) return;
  serving_ = serving;
  if (serving) serving_since_ = now_;
  ready_.serving = serving;
  if (!serving) {
    for (uint64_t id : syncs_) ready_.syncs.push_back({id, 0, false});
    syncs_.clear();
  }
}

void Peer::PersistHardState(HardState hs) {
  hs_ = hs;
  ready_.hard_state = hs;
}

void Peer::Append(Txn txn) {
  ready_.append.push_back(txn);
  log_.push_back(std::move(txn));
}

bool Peer::TruncateAfter(Zxid zxid) {
  if (zxid < applied_ || zxid < log_base_) return false;
  if (zxid >= LastZxid()) return true;
  log_.erase(log_.begin() + static_cast<std::ptrdiff_t>(IndexAfter(zxid)), log_.end());
  auto& pending = ready_.append;
  pending.erase(std::remove_if(pending.begin(), pending.end(),
                               [zxid](const Txn& txn) { return txn.zxid > zxid; }),
                pending.end());
  ready_.truncate_after = ready_.truncate_after ? std::min(*ready_.truncate_after, zxid) : zxid;
  // Entries past the cut that were durable, or on their way, no longer count.
  durable_zxid_ = std::min(durable_zxid_, zxid);
  for (InflightBatch& batch : inflight_) batch.log_last = std::min(batch.log_last, zxid);
  commit_ = std::min(commit_, zxid);
  return true;
}

void Peer::InstallSnapshot(SnapshotData snap) {
  log_.clear();
  log_base_ = snap.zxid;
  durable_zxid_ = std::min(durable_zxid_, snap.zxid);
  for (InflightBatch& batch : inflight_) batch.log_last = std::min(batch.log_last, snap.zxid);
  applied_ = snap.zxid;
  commit_ = snap.zxid;
  ready_.append.clear();
  ready_.truncate_after.reset();
  ready_.install_snapshot = std::move(snap);
}

bool Peer::CommitsPending() const {
  size_t next = IndexAfter(applied_);
  return next < log_.size() && log_[next].zxid <= std::min(commit_, durable_zxid_);
}

void Peer::EmitCommits() {
  Zxid upto = std::min(commit_, durable_zxid_);
  if (upto <= applied_) return;
  for (size_t i = IndexAfter(applied_); i < log_.size() && log_[i].zxid <= upto; ++i) {
    ready_.commits.push_back(log_[i]);
    applied_ = log_[i].zxid;
    ++counters_.commit_count;
  }
}

Ready Peer::TakeReady() {
  EmitCommits();
  auto& touched = ready_.touched_sessions;
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  if (ready_.HasPersistence()) {
    ready_.persist_id = ++last_persist_id_;
    inflight_.push_back(InflightBatch{ready_.persist_id, LastZxid(), hs_});
  }
  Ready out = std::move(ready_);
  ready_ = Ready{};
  return out;
}

void Peer::OnPersisted(uint64_t persist_id) {
  bool advanced = false;
  while (!inflight_.empty() && inflight_.front().id <= persist_id) {
    durable_zxid_ = inflight_.front().log_last;
    durable_hs_ = inflight_.front().hs;
    inflight_.pop_front();
    advanced = true;
  }
  if (!advanced) return;
  auto keep = held_.begin();
  for (auto& [needs, msg] : held_) {
    if (needs <= persist_id) {
      ready_.messages.push_back(std::move(msg));
    } else {
      *keep++ = {needs, std::move(msg)};
    }
  }
  held_.erase(keep, held_.end());
  if (state_ == ServerState::kLeading) LeaderAfterPersist();
  EmitCommits();
}

void Peer::CompactLog(Zxid upto) {
  upto = std::min(upto, applied_);
  if (upto <= log_base_) return;
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(IndexAfter(upto)));
  log_base_ = upto;
}

void Peer::Step(const Message& msg) {
  if (msg.to != config_.id || !config_.IsMember(msg.from) || msg.from == config_.id) return;
  switch (msg.type) {
    case MsgType::kNotification:
      HandleNotification(msg);
      return;
    case MsgType::kFollowerInfo:
    case MsgType::kObserverInfo:
      if (state_ == ServerState::kLeading) {
        LeaderStep(msg);
      } else if (state_ == ServerState::kLooking) {
        early_infos_[msg.from] = msg;
      }
      return;
    case MsgType::kAckEpoch:
    case MsgType::kAck:
    case MsgType::kRequest:
      if (state_ == ServerState::kLeading) LeaderStep(msg);
      return;
    case MsgType::kLinkDown:
      if ((state_ == ServerState::kFollowing || state_ == ServerState::kObserving) && msg.from == leader_) {
        LearnerFail("the connection from leader " + std::to_string(leader_) + " closed");
      } else if (state_ == ServerState::kLeading && learners_.erase(msg.from)) {
        Log(Event::Level::kWarn, "The connection from learner " + std::to_string(msg.from) + " closed");
      }
      return;
    case MsgType::kPing:
    case MsgType::kSync:
      if (state_ == ServerState::kLeading) {
        LeaderStep(msg);
      } else if (state_ == ServerState::kFollowing || state_ == ServerState::kObserving) {
        LearnerStep(msg);
      }
      return;
    default:
      if (state_ == ServerState::kFollowing || state_ == ServerState::kObserving) LearnerStep(msg);
      return;
  }
}

void Peer::Tick() {
  ++now_;
  switch (state_) {
    case ServerState::kLooking: ElectionTick(); break;
    case ServerState::kLeading: LeaderTick(); break;
    case ServerState::kFollowing:
    case ServerState::kObserving: LearnerTick(); break;
  }
}

Status Peer::Propose(std::string payload, uint64_t session) {
  if (!serving_) {
    return Status::Unavailable("server " + std::to_string(config_.id) +
                               ": This ZooKeeper instance is not currently serving requests");
  }
  Txn txn{0, TxnKind::kClient, session, std::move(payload)};
  if (state_ == ServerState::kLeading) {
    ProposeAsLeader(std::move(txn));
  } else {
    Message msg;
    msg.type = MsgType::kRequest;
    msg.txn = std::move(txn);
    SendToLeader(std::move(msg), false);
  }
  return Status::Ok();
}

Status Peer::ProposeCloseSession(uint64_t session) {
  if (state_ != ServerState::kLeading || !serving_) {
    return Status::Unavailable("server " + std::to_string(config_.id) +
                               ": only the serving leader decides session expiry");
  }
  ProposeAsLeader(Txn{0, TxnKind::kCloseSession, session, {}});
  return Status::Ok();
}

Status Peer::Sync(uint64_t id) {
  if (!serving_) {
    return Status::Unavailable("server " + std::to_string(config_.id) +
                               ": This ZooKeeper instance is not currently serving requests");
  }
  if (state_ == ServerState::kLeading) {
    ready_.syncs.push_back({id, LastZxid(), true});
    return Status::Ok();
  }
  syncs_.insert(id);
  Message msg;
  msg.type = MsgType::kSync;
  msg.request = id;
  SendToLeader(std::move(msg), false);
  return Status::Ok();
}

void Peer::TouchSessions(const std::vector<uint64_t>& sessions) {
  if (!serving_ || (state_ != ServerState::kFollowing && state_ != ServerState::kObserving)) return;
  touched_.insert(sessions.begin(), sessions.end());
}

PeerStatus Peer::Describe() const {
  PeerStatus st;
  st.state = state_;
  st.serving = serving_;
  st.leader = state_ == ServerState::kLooking ? 0 : current_vote_.leader;
  st.epoch = serving_ ? (state_ == ServerState::kLeading ? epoch_ : leader_epoch_) : 0;
  st.hard_state = hs_;
  st.last_zxid = LastZxid();
  st.commit_zxid = commit_;
  st.applied_zxid = applied_;
  st.round = logical_clock_;
  st.quorum_size = config_.Quorum();
  const int64_t sync_ticks = config_.sync_limit * config_.Ticks(config_.tick_time_ms);
  if (state_ == ServerState::kLeading) {
    for (const auto& [sid, h] : learners_) {
      ++st.learners;
      bool synced = h.newleader_acked && now_ - h.last_heard <= sync_ticks;
      if (synced && !h.observer) ++st.synced_followers;
      if (synced && h.observer) ++st.synced_observers;
      if (!h.uptodate_sent) ++st.pending_syncs;
    }
    st.pending_proposals = static_cast<size_t>(log_.size() - IndexAfter(commit_));
  }
  // ZooKeeper's detailed peer state: the role, then the ZAB phase it is in.
  const char* phase = "election";
  if (state_ == ServerState::kLeading) {
    phase = leader_phase_ == LeaderPhase::kBroadcast ? "broadcast"
            : leader_phase_ == LeaderPhase::kNewLeaderAck ? "synchronization"
                                                          : "discovery";
  } else if (state_ != ServerState::kLooking) {
    phase = learner_phase_ == LearnerPhase::kServing ? "broadcast"
            : learner_phase_ == LearnerPhase::kInfo   ? "discovery"
                                                      : "synchronization";
  }
  std::string role = StateName(state_);
  for (char& c : role) c = static_cast<char>(c - 'A' + 'a');
  st.peer_state = role + " - " + phase;
  st.looking_count = counters_.looking_count;
  st.last_election_ms = counters_.last_election_ms;
  st.last_sync_ms = counters_.last_sync_ms;
  st.leader_uptime_ms = state_ == ServerState::kLeading && serving_ ? (now_ - serving_since_) * config_.tick_ms : -1;
  st.diff_count = counters_.diff_count;
  st.trunc_count = counters_.trunc_count;
  st.snap_count = counters_.snap_count;
  st.proposal_count = counters_.proposal_count;
  st.commit_count = counters_.commit_count;
  st.learner_proposal_received_count = counters_.learner_proposal_received_count;
  st.learner_commit_received_count = counters_.learner_commit_received_count;
  st.last_proposal_size = counters_.last_proposal_size;
  st.min_proposal_size = counters_.min_proposal_size;
  st.max_proposal_size = counters_.max_proposal_size;
  return st;
}

}  // namespace faultline::zab

// Fast Leader Election, after ZooKeeper's FastLeaderElection.lookForLeader and its
// WorkerReceiver: votes ordered by (peer epoch, zxid, server id), adopted and re-broadcast
// when better, a decision on a strict majority of voters after finalizeWait without a better
// vote, and notification time-outs that double up to maxNotificationInterval.
//
// The core only emits notifications; delivering them (and connecting to peers that may be
// down) is the caller's business and must never make one peer wait for another.
#include <algorithm>
#include <string>

#include "coord/zab/peer.h"

namespace faultline::zab {

Vote Peer::InitialVote() const {
  Vote vote;
  if (config_.IsVoter(config_.id)) {
    vote.leader = config_.id;
    vote.zxid = LastZxid();
    vote.peer_epoch = hs_.current_epoch;
  }
  // An observer proposes nobody: any voter's vote is better than its own.
  vote.round = logical_clock_;
  vote.state = ServerState::kLooking;
  return vote;
}

bool Peer::Better(const Vote& candidate, const Vote& current) const {
  if (!config_.IsVoter(candidate.leader)) return false;
  if (current.leader == 0) return true;
  if (candidate.peer_epoch != current.peer_epoch) return candidate.peer_epoch > current.peer_epoch;
  if (candidate.zxid != current.zxid) return candidate.zxid > current.zxid;
  return candidate.leader > current.leader;
}

bool Peer::HasQuorum(const std::map<ServerId, Vote>& votes, const Vote& vote) const {
  size_t agree = 0;
  for (const auto& [sid, v] : votes) {
    if (config_.IsVoter(sid) && v.SameAs(vote)) ++agree;
  }
  return agree >= config_.Quorum();
}

bool Peer::CheckLeader(const std::map<ServerId, Vote>& votes, ServerId leader, uint64_t round) const {
  if (leader == config_.id) return logical_clock_ == round;
  auto it = votes.find(leader);
  return it != votes.end() && it->second.state == ServerState::kLeading;
}

void Peer::StartLooking() {
  // Whatever role we had is over: forget its connections and hold no stale answers.
  learners_.clear();
  reorder_.clear();
  staged_snapshot_.reset();
  staged_log_.clear();
  touched_.clear();
  leader_ = 0;
  SetServing(false);
  SetState(ServerState::kLooking);
  ++counters_.looking_count;
  ++logical_clock_;
  proposal_ = InitialVote();
  recvset_.clear();
  outofelection_.clear();
  early_infos_.clear();
  if (config_.IsVoter(config_.id)) recvset_[config_.id] = proposal_;
  finalize_deadline_.reset();
  looking_since_ = now_;
  last_notification_ = now_;
  not_timeout_ms_ = config_.finalize_wait_ms;
  Log(Event::Level::kInfo, "New election. My id = " + std::to_string(config_.id) +
                               ", proposed zxid=" + ZxidHex(proposal_.zxid));
  SendNotifications();
  // An ensemble of one is its own quorum: nobody will answer, so settle on our own vote.
  if (proposal_.leader != 0 && HasQuorum(recvset_, proposal_)) {
    finalize_deadline_ = now_ + config_.Ticks(config_.finalize_wait_ms);
  }
}

void Peer::SendVote(ServerId to, const Vote& vote) {
  Message msg;
  msg.type = MsgType::kNotification;
  msg.to = to;
  msg.vote = vote;
  Send(std::move(msg));
}

void Peer::SendNotifications() {
  Vote vote = proposal_;
  vote.round = logical_clock_;
  vote.state = ServerState::kLooking;
  for (ServerId sid : config_.voters) {
    if (sid != config_.id) SendVote(sid, vote);
  }
}

void Peer::HandleNotification(const Message& msg) {
  const Vote& n = msg.vote;
  // The receiver thread's part: answer those who cannot vote, and those still looking while
  // we are not, with the vote we hold.
  if (!config_.IsVoter(msg.from)) {
    if (n.state == ServerState::kLooking) {
      Vote mine = state_ == ServerState::kLooking ? proposal_ : current_vote_;
      mine.state = state_;
      if (state_ == ServerState::kLooking) mine.round = logical_clock_;
      SendVote(msg.from, mine);
    }
    return;
  }
  // Logged on receipt whatever our state, as ZooKeeper's receiver thread does.
  Log(Event::Level::kInfo,
      std::string("Notification: my state:") + StateName(state_) + "; n.sid:" + std::to_string(msg.from) +
          ", n.state:" + StateName(n.state) + ", n.leader:" + std::to_string(n.leader) +
          ", n.round:0x" + Hex(n.round) + ", n.peerEpoch:0x" + Hex(n.peer_epoch) +
          ", n.zxid:" + ZxidHex(n.zxid) + ", message format version:0x2, n.config version:0x0");
  if (state_ != ServerState::kLooking) {
    if ((state_ == ServerState::kFollowing || state_ == ServerState::kObserving) && msg.from == leader_ &&
        n.state == ServerState::kLooking && n.round > current_vote_.round) {
      // Our leader has started a new election: it no longer leads (ZooKeeper's followers
      // learn that from the closed socket). Waiting out syncLimit would only delay the next.
      LearnerFail("leader " + std::to_string(leader_) + " is looking for a leader (round 0x" + Hex(n.round) + ")");
      return;
    }
    if (n.state == ServerState::kLooking) {
      Vote mine = current_vote_;
      mine.state = state_;
      SendVote(msg.from, mine);
    }
    return;
  }
  last_notification_ = now_;
  if (n.state == ServerState::kLooking && n.round < logical_clock_) {
    Vote mine = proposal_;
    mine.round = logical_clock_;
    SendVote(msg.from, mine);
    return;
  }

  if (finalize_deadline_) {
    // Settling (finalizeWait): a better vote reopens the election; anything else is dropped
    // and the wait starts over, as ZooKeeper's poll loop does.
    bool better = (n.state == ServerState::kLooking && n.round > logical_clock_) || Better(n, proposal_);
    if (!better) {
      finalize_deadline_ = now_ + config_.Ticks(config_.finalize_wait_ms);
      return;
    }
    finalize_deadline_.reset();
  }

  switch (n.state) {
    case ServerState::kLooking: {
      if (n.round > logical_clock_) {
        logical_clock_ = n.round;
        recvset_.clear();
        Vote self = InitialVote();
        proposal_ = Better(n, self) ? n : self;
        proposal_.round = logical_clock_;
        SendNotifications();
      } else if (Better(n, proposal_)) {
        proposal_ = n;
        proposal_.round = logical_clock_;
        SendNotifications();
      }
      if (config_.IsVoter(config_.id)) recvset_[config_.id] = proposal_;
      recvset_[msg.from] = n;
      if (proposal_.leader != 0 && HasQuorum(recvset_, proposal_)) {
        finalize_deadline_ = now_ + config_.Ticks(config_.finalize_wait_ms);
      }
      return;
    }
    case ServerState::kObserving:
      return;
    case ServerState::kFollowing:
    case ServerState::kLeading: {
      if (n.round == logical_clock_) {
        recvset_[msg.from] = n;
        if (HasQuorum(recvset_, n) && CheckLeader(recvset_, n.leader, n.round)) {
          Decide(n);
          return;
        }
      }
      // Joining an ensemble that already settled: a quorum following one leader that says
      // it leads is enough, whatever round they settled in.
      outofelection_[msg.from] = n;
      if (HasQuorum(outofelection_, n) && CheckLeader(outofelection_, n.leader, n.round)) {
        logical_clock_ = n.round;
        Decide(n);
      }
      return;
    }
  }
}

void Peer::ElectionTick() {
  if (finalize_deadline_ && now_ >= *finalize_deadline_) {
    finalize_deadline_.reset();
    Decide(proposal_);
    return;
  }
  if (now_ - last_notification_ >= config_.Ticks(not_timeout_ms_)) {
    // Nothing heard for a while: say it again, and wait twice as long next time.
    SendNotifications();
    not_timeout_ms_ = std::min<int64_t>(not_timeout_ms_ * 2, config_.max_notification_interval_ms);
    Log(Event::Level::kInfo, "Notification time out: " + std::to_string(not_timeout_ms_));
    last_notification_ = now_;
  }
}

void Peer::Decide(const Vote& vote) {
  current_vote_ = vote;
  current_vote_.round = vote.round;
  recvset_.clear();
  outofelection_.clear();
  finalize_deadline_.reset();
  std::map<ServerId, Message> early;
  early.swap(early_infos_);
  int64_t took_ms = (now_ - looking_since_) * config_.tick_ms;
  counters_.last_election_ms = took_ms;
  decided_at_ = now_;
  if (vote.leader == config_.id) {
    SetState(ServerState::kLeading);
    Log(Event::Level::kInfo, "LEADING - LEADER ELECTION TOOK - " + std::to_string(took_ms) + " MS");
    StartLeading();
    for (const auto& [from, info] : early) {
      if (state_ == ServerState::kLeading) LeaderStep(info);
    }
  } else {
    leader_ = vote.leader;
    if (config_.IsVoter(config_.id)) {
      SetState(ServerState::kFollowing);
      Log(Event::Level::kInfo, "FOLLOWING - LEADER ELECTION TOOK - " + std::to_string(took_ms) + " MS");
    } else {
      SetState(ServerState::kObserving);
      Log(Event::Level::kInfo, "OBSERVING - LEADER ELECTION TOOK - " + std::to_string(took_ms) + " MS");
    }
    StartLearning();
  }
}

}  // namespace faultline::zab

// One ensemble member's consensus core: Fast Leader Election and ZooKeeper Atomic Broadcast
// (discovery, synchronization, broadcast) as a pure state machine.
//
// Inputs: Step(message), Tick(), Propose()/ProposeCloseSession() for writes, TouchSessions() for
// client sessions a learner saw activity on, OnPersisted() when the application has made a
// Ready's records durable. Outputs: one Ready batch at a time.
// The core does no I/O, reads no clock and starts no thread; the same inputs in the same order
// give the same outputs, which is what lets tests/sim replay a failing seed exactly.
//
// How the application drives it (quorumd does this; so does the simulator):
//
//   while (peer.HasReady()) {
//     Ready rd = peer.TakeReady();
//     1. persist rd's records: install_snapshot, then truncate_after, then append, then
//        hard_state; fsync. If rd.persist_id != 0, call peer.OnPersisted(rd.persist_id) once
//        they are durable (may be later, from another batch: acknowledgements are in order).
//     2. send rd.messages (any order, any time: none of them claims anything not yet durable)
//     3. if rd.install_snapshot, replace the application state with it; then apply
//        rd.commits in order; refresh the sessions in rd.touched_sessions (leader); route
//        rd.events to the log
//   }
//
// Atomic SNAP: a Ready carrying install_snapshot also carries the log that follows it and the
// new currentEpoch; the application must make that whole batch durable atomically (a crash
// leaves the old state or all of the new one), e.g. by writing aside and renaming.
//
// Persist before send: a message that claims durability (ACKEPOCH, ACK of NEWLEADER or of a
// proposal) is never put in a Ready before OnPersisted() has acknowledged every record it
// depends on; the core holds it back until then. The leader counts its own acknowledgement
// of an epoch, of NEWLEADER and of a proposal under the same rule. So the application may batch
// fsyncs freely (group commit) but must not call OnPersisted early.
//
// Thread safety: none. One thread owns a Peer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "coord/zab/config.h"
#include "coord/zab/message.h"
#include "coord/zab/types.h"

namespace faultline::zab {

struct Event {
  enum class Level : uint8_t { kInfo, kWarn, kError };
  Level level = Level::kInfo;
  std::string text;  // ZooKeeper's wording where ZooKeeper logs the same moment
};

struct Ready {
  // Records to make durable, applied in this order.
  std::optional<SnapshotData> install_snapshot;  // replaces state and log: log is empty after it
  std::optional<Zxid> truncate_after;            // drop log entries with a greater zxid
  std::vector<Txn> append;                       // in zxid order
  std::optional<HardState> hard_state;           // the latest; overwrite the previous one
  uint64_t persist_id = 0;                       // non-zero when any record above is set

  std::vector<Message> messages;  // safe to send now
  std::vector<Txn> commits;       // apply in order; each is already durable here
  // Leader only: sessions the learners saw activity on (from their PING replies), sorted and
  // without repeats. The leader's session tracker refreshes their timeouts. Best effort: a lost
  // ping loses its touches, and the learner's next one carries the next.
  std::vector<uint64_t> touched_sessions;
  std::optional<ServerState> state;  // changed to
  std::optional<bool> serving;       // changed to: may clients be served now?
  std::vector<Event> events;
  // Client syncs answered: each id given to Peer::Sync, once. ok: apply commits up to zxid,
  // then answer the client; not ok: the sync cannot complete here (no longer serving).
  struct SyncDone {
    uint64_t id = 0;
    Zxid zxid = 0;
    bool ok = false;
  };
  std::vector<SyncDone> syncs;

  bool HasPersistence() const {
    return install_snapshot || truncate_after || !append.empty() || hard_state;
  }
  bool Empty() const {
    return !HasPersistence() && messages.empty() && commits.empty() && touched_sessions.empty() &&
           !state && !serving && events.empty() && syncs.empty();
  }
};

// The application's state as of its latest applied transaction, asked for when a learner is
// too far behind (or off in a branch the leader cannot diff against) and needs SNAP.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // REQUIRES: the result covers every commit this peer has handed out in earlier Readys that
  // the application has applied, and zxid >= the last CompactLog() point.
  virtual SnapshotData TakeSnapshot() = 0;
};

// What survived on disk, handed to a restarting peer.
struct DurableState {
  HardState hard_state;
  Zxid snapshot_zxid = 0;  // the application's durable snapshot covers up to here
  std::vector<Txn> log;    // every entry after snapshot_zxid, in zxid order
};

// Introspection for four-letter words and tests.
struct PeerStatus {
  ServerState state = ServerState::kLooking;
  bool serving = false;
  ServerId leader = 0;  // the vote we follow (or lead); 0 while LOOKING
  uint32_t epoch = 0;   // the established epoch we serve in (0 while not serving)
  HardState hard_state;
  Zxid last_zxid = 0;
  Zxid commit_zxid = 0;
  Zxid applied_zxid = 0;
  uint64_t round = 0;
  size_t synced_followers = 0;  // leader only: voters in sync, excluding itself
  size_t learners = 0;          // leader only: connected learners
  size_t pending_proposals = 0; // leader only: logged but not yet committed
  size_t synced_observers = 0;  // leader only
  size_t pending_syncs = 0;     // leader only: learners connected but not yet up to date
  size_t quorum_size = 0;

  // The figures `mntr` reports, counted since this peer started.
  std::string peer_state;        // zk_peer_state: "leading - broadcast", "looking - election" ...
  uint64_t looking_count = 0;    // times this peer went LOOKING
  int64_t last_election_ms = -1; // the last election's LOOKING to decision (election_time)
  int64_t last_sync_ms = -1;     // learner: decision to UPTODATE (follower_sync_time)
  int64_t leader_uptime_ms = -1; // leader: time serving in this epoch
  uint64_t diff_count = 0;       // leader: learners synced with DIFF / TRUNC / SNAP
  uint64_t trunc_count = 0;
  uint64_t snap_count = 0;
  uint64_t proposal_count = 0;   // leader: proposals made
  uint64_t commit_count = 0;     // transactions handed out as committed
  uint64_t learner_proposal_received_count = 0;
  uint64_t learner_commit_received_count = 0;
  size_t last_proposal_size = 0;
  size_t min_proposal_size = 0;
  size_t max_proposal_size = 0;
};

class Peer {
 public:
  // REQUIRES: config.Validate().ok(); snapshots outlives the peer.
  Peer(PeerConfig config, DurableState restored, SnapshotSource* snapshots);

  void Step(const Message& msg);
  void Tick();
  // A client write. On the leader it becomes a proposal; on a serving learner it is forwarded.
  // Unavailable when not serving; the caller learns of success when the commit is applied.
  Status Propose(std::string payload, uint64_t session = 0);
  // The session-expiry hook: only the leader decides an expiry, once, through the log.
  Status ProposeCloseSession(uint64_t session);
  // Client activity on these sessions. On a serving learner (follower or observer) the ids are
  // kept, without repeats, and carried on its next PING reply to the leader, which hands them
  // out in Ready::touched_sessions. Anywhere else (leader, LOOKING, a learner still syncing) it
  // does nothing: the leader's application tracks its own sessions.
  void TouchSessions(const std::vector<uint64_t>& sessions);
  // A client's sync, as ZooKeeper's: once Ready::syncs names `id` with ok, every transaction
  // the leader had proposed when it saw the sync is at or below its zxid. The leader answers
  // at once with its last proposed zxid; a learner asks its leader. Unavailable when not serving.
  Status Sync(uint64_t id);
  void OnPersisted(uint64_t persist_id);
  // Forgets log entries up to `upto` (clamped to what has been applied), after the application
  // made a durable snapshot covering them. Learners that need them get SNAP instead.
  void CompactLog(Zxid upto);

  // True when TakeReady() would return something: records, messages, events, or commits that
  // became durable and committed since the last Ready.
  bool HasReady() const { return !ready_.Empty() || CommitsPending(); }
  Ready TakeReady();

  PeerStatus Describe() const;
  const PeerConfig& config() const { return config_; }
  ServerId id() const { return config_.id; }
  int64_t now() const { return now_; }

 private:
  enum class LeaderPhase : uint8_t { kDiscovery, kEpochAck, kNewLeaderAck, kBroadcast };
  enum class LearnerPhase : uint8_t { kInfo, kEpochAcked, kSyncing, kNewLeaderAcked, kServing };

  // The leader's view of one learner connection.
  struct LearnerHandle {
    ServerId sid = 0;
    bool observer = false;
    uint64_t conn = 0;
    uint64_t out_seq = 0;  // last sequence number sent on conn
    uint64_t in_seq = 0;   // last sequence number received on conn
    uint32_t accepted_epoch = 0;
    ServerId accepted_leader = 0;
    bool leaderinfo_sent = false;
    bool epoch_acked = false;
    bool epoch_vote = false;  // its ACKEPOCH counts toward establishing the epoch
    bool newleader_sent = false;
    bool newleader_acked = false;
    bool uptodate_sent = false;
    uint32_t current_epoch = 0;  // from ACKEPOCH
    Zxid last_zxid = 0;          // from ACKEPOCH
    Zxid newleader_zxid = 0;
    Zxid acked = 0;
    int64_t last_heard = 0;
  };

  // --- shared (peer.cc)
  Zxid LastZxid() const { return log_.empty() ? log_base_ : log_.back().zxid; }
  void Send(Message msg);
  void SendAfterPersist(Message msg);
  void Log(Event::Level level, std::string text);
  void SetState(ServerState state);
  void SetServing(bool serving);
  void Append(Txn txn);
  // Returns false when asked to cut into what was already applied.
  bool TruncateAfter(Zxid zxid);
  void InstallSnapshot(SnapshotData snap);
  void EmitCommits();
  bool CommitsPending() const;
  void PersistHardState(HardState hs);
  size_t IndexAfter(Zxid zxid) const;  // first log index with a zxid greater than zxid

  // --- election (election.cc)
  void StartLooking();
  void HandleNotification(const Message& msg);
  void ElectionTick();
  void SendNotifications();
  void SendVote(ServerId to, const Vote& vote);
  Vote InitialVote() const;
  bool Better(const Vote& candidate, const Vote& current) const;
  bool HasQuorum(const std::map<ServerId, Vote>& votes, const Vote& vote) const;
  bool CheckLeader(const std::map<ServerId, Vote>& votes, ServerId leader, uint64_t round) const;
  void Decide(const Vote& vote);

  // --- leader (leader.cc)
  void StartLeading();
  void LeaderStep(const Message& msg);
  void LeaderTick();
  void LeaderAfterPersist();
  void SendToLearner(LearnerHandle& handle, Message msg);
  void DecideEpochIfQuorum();
  void EstablishEpochIfQuorum();
  void EstablishIfQuorum();
  void SyncLearner(LearnerHandle& handle);
  void MaybeCommit();
  void ProposeAsLeader(Txn txn);
  void StepDown(const std::string& reason);

  // --- learner (learner.cc)
  void StartLearning();
  void LearnerStep(const Message& msg);
  void LearnerProcess(const Message& msg);
  void LearnerTick();
  void SendToLeader(Message msg, bool after_persist);
  void Reconnect(const std::string& why);
  void LearnerFail(const std::string& why);

  PeerConfig config_;
  SnapshotSource* snapshots_;
  int64_t now_ = 0;

  // Log and durability.
  HardState hs_;
  HardState durable_hs_;
  Zxid log_base_ = 0;    // entries up to here live only in the application's snapshot
  std::vector<Txn> log_; // entries after log_base_
  Zxid durable_zxid_ = 0;  // log entries up to here are on disk
  Zxid commit_ = 0;
  Zxid applied_ = 0;       // last commit handed out

  // Ready assembly and the persist-before-send queue.
  struct InflightBatch {
    uint64_t id;
    Zxid log_last;
    HardState hs;
  };
  Ready ready_;
  uint64_t last_persist_id_ = 0;
  std::deque<InflightBatch> inflight_;
  std::vector<std::pair<uint64_t, Message>> held_;  // (persist id it waits for, message)

  ServerState state_ = ServerState::kLooking;
  bool serving_ = false;

  // Election.
  uint64_t logical_clock_ = 0;
  Vote proposal_;
  Vote current_vote_;  // what we answer with while not LOOKING
  std::map<ServerId, Vote> recvset_;
  std::map<ServerId, Vote> outofelection_;
  // FOLLOWERINFO/OBSERVERINFO that arrived while still LOOKING (the learner decided first,
  // inside our finalize wait): taken up at once if we then lead, instead of a tickTime later.
  std::map<ServerId, Message> early_infos_;
  int64_t looking_since_ = 0;
  int64_t last_notification_ = 0;
  int64_t not_timeout_ms_ = 0;
  std::optional<int64_t> finalize_deadline_;

  // Leader.
  LeaderPhase leader_phase_ = LeaderPhase::kDiscovery;
  uint32_t epoch_ = 0;  // the epoch being established or served
  uint32_t counter_ = 0;
  Zxid initial_last_ = 0;
  int64_t phase_start_ = 0;
  int64_t next_ping_ = 0;
  std::map<ServerId, LearnerHandle> learners_;

  // Learner.
  ServerId leader_ = 0;
  LearnerPhase learner_phase_ = LearnerPhase::kInfo;
  uint64_t conn_counter_ = 0;
  uint64_t conn_ = 0;
  uint64_t out_seq_ = 0;
  uint64_t next_in_seq_ = 1;
  std::map<uint64_t, Message> reorder_;
  int64_t gap_since_ = 0;
  int64_t last_heard_ = 0;
  int64_t next_info_ = 0;
  uint32_t leader_epoch_ = 0;
  int64_t decided_at_ = 0;  // when the last election ended
  std::set<uint64_t> touched_;  // sessions for the next PING reply
  std::set<uint64_t> syncs_;    // learner: sync ids asked of the leader, not yet answered

  // Figures for PeerStatus (mntr).
  PeerStatus counters_;
  int64_t serving_since_ = 0;

  // A SNAP sync is staged here until NEWLEADER: installing it on arrival would throw away the
  // log before the replacement is complete, and a sync cut short would leave this server
  // claiming its old epoch with less history than it had (the simulator found that one).
  std::optional<SnapshotData> staged_snapshot_;
  std::vector<Txn> staged_log_;
};

}  // namespace faultline::zab

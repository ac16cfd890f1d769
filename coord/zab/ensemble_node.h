// One ensemble member at run time: a Peer driven by its own thread over a PeerNetwork, a disk
// and an application, all behind narrow interfaces so quorumd plugs in its transaction log and
// data tree, and tests plug in fakes.
//
// The loop, per turn: hand the peer what Submit*() queued; take what the network delivered and
// Step it; Tick every tick_ms; then for each Ready: send the messages and apply the commits,
// ZabStorage::Persist (durable on return), OnPersisted, report touched sessions, the role and
// the events; last, refresh the status DescribeCached() returns. Sending before the fsync is
// safe because the core never puts a message that claims durability in a Ready before
// OnPersisted covered its records (peer.h); a Ready installing a snapshot is persisted first.
//
// The loop holds the node's lock for the whole turn, fsyncs included. Submit*() and
// DescribeCached() take only small locks of their own, so a server's request path and its
// four-letter words never wait behind the disk; Propose(), ProposeCloseSession() and
// Describe() do.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "coord/zab/peer.h"
#include "coord/zab/peer_network.h"

namespace faultline::zab {

// The disk. Persist() returns once the records are durable (fsynced), applying them in the
// order peer.h describes; an install_snapshot batch must be atomic. An error stops the node:
// a server that cannot persist must not acknowledge anything.
class ZabStorage {
 public:
  virtual ~ZabStorage() = default;
  virtual Status Persist(const Ready& ready) = 0;
};

// The replicated state machine and the observer of the node's life. Every call is made on the
// node's thread with the node's lock held: a callback may call EnsembleNode::Submit*() and
// DescribeCached() and storage_error(), but not Propose(), ProposeCloseSession(), Describe()
// or CompactLog().
class ZabApplication : public SnapshotSource {
 public:
  // Called on the node's thread, in zxid order, once per committed transaction.
  virtual void Apply(const Txn& txn) = 0;
  // A snapshot from the leader replaces the state (SNAP sync).
  virtual void Install(const SnapshotData& snapshot) = 0;
  virtual void OnRoleChange(ServerState state, bool serving) = 0;
  virtual void OnEvent(const Event& event) = 0;
  // Leader: sessions the learners' clients used since their previous pings
  // (Ready::touched_sessions), to refresh in the session tracker. Best effort.
  virtual void OnTouched(const std::vector<uint64_t>& /*sessions*/) {}
  // A Submit() or SubmitCloseSession() the peer refused (not serving, a close anywhere but on
  // the serving leader, a failed disk), with why. payload is empty for a close.
  virtual void OnRefused(const std::string& /*payload*/, uint64_t /*session*/, const Status& /*why*/) {}
  // A SubmitSync() answered (Ready::syncs): ok with the zxid to apply up to before the
  // client's answer, or not ok when it cannot complete here.
  virtual void OnSync(uint64_t /*id*/, Zxid /*zxid*/, bool /*ok*/) {}
};

class EnsembleNode {
 public:
  // REQUIRES: config.Validate().ok(); network, storage and app outlive the node, and the
  // network is started. The node owns none of them.
  EnsembleNode(PeerConfig config, DurableState restored, PeerNetwork* network, ZabStorage* storage,
               ZabApplication* app);
  ~EnsembleNode();

  void Start();
  // Stops the loop thread. The peer's state is kept for Describe(); the node cannot restart.
  void Stop();

  // Thread-safe; waits for the node's lock (behind an fsync in progress). See Peer::Propose /
  // Peer::ProposeCloseSession.
  Status Propose(std::string payload, uint64_t session = 0);
  Status ProposeCloseSession(uint64_t session);
  // Thread-safe and never blocked by the node's thread: queued, and handed to the peer at the
  // start of the loop's next turn, which they wake. Success shows as the commit being applied;
  // a refusal comes back through ZabApplication::OnRefused on the node's thread.
  void Submit(std::string payload, uint64_t session = 0);
  void SubmitCloseSession(uint64_t session);
  // Peer::TouchSessions: on a serving learner, reported to the leader with its next ping.
  void SubmitTouches(std::vector<uint64_t> sessions);
  // Peer::Sync: the answer comes back through ZabApplication::OnSync on the node's thread.
  void SubmitSync(uint64_t id);
  // Thread-safe snapshot of the peer's status, taken under the node's lock.
  PeerStatus Describe() const;
  // The status as of the end of the loop's latest turn, without waiting for the node's lock
  // (for four-letter words): at most a turn old.
  PeerStatus DescribeCached() const;
  // Compacts the peer's log after the application made a durable snapshot up to `upto`.
  void CompactLog(Zxid upto);
  // Set when Persist failed; the node has stopped acknowledging anything. Never waits for the
  // node's lock: a caller may hold a lock the node's thread is waiting for (the server's tree
  // lock, which TakeSnapshot needs while the node's lock is held).
  Status storage_error() const;

 private:
  struct Submission {
    enum class Kind : uint8_t { kWrite, kCloseSession, kTouches, kSync };
    Kind kind = Kind::kWrite;
    std::string payload;
    uint64_t session = 0;
    std::vector<uint64_t> sessions;
    uint64_t sync_id = 0;
  };

  void Loop();
  void Enqueue(Submission s);
  void DrainSubmissions();  // REQUIRES: mu_ held
  void DrainReadys();       // REQUIRES: mu_ held
  void RefreshCached();     // REQUIRES: mu_ held

  PeerConfig config_;
  PeerNetwork* network_;
  ZabStorage* storage_;
  ZabApplication* app_;
  mutable std::mutex mu_;
  std::unique_ptr<Peer> peer_;  // GUARDED_BY(mu_)
  Status storage_error_;        // GUARDED_BY(mu_); copied to storage_error_cached_
  std::mutex submit_mu_;                // taken after mu_ when both are held
  std::vector<Submission> submitted_;   // GUARDED_BY(submit_mu_)
  mutable std::mutex cached_mu_;        // taken after mu_ when both are held
  PeerStatus cached_;                   // GUARDED_BY(cached_mu_)
  Status storage_error_cached_;         // GUARDED_BY(cached_mu_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace faultline::zab

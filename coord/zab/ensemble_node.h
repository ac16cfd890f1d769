// One ensemble member at run time: a Peer driven by its own thread over a PeerNetwork, a disk
// and an application, all behind narrow interfaces so quorumd plugs in its transaction log and
// data tree, and tests plug in fakes.
//
// The loop, per turn: take what the network delivered and Step it; Tick every tick_ms; then
// for each Ready: ZabStorage::Persist (durable on return), OnPersisted, send the messages,
// apply the commits, report the role and the events. Persisting before sending is therefore
// the loop's order as well as the core's rule.
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

// The replicated state machine and the observer of the node's life.
class ZabApplication : public SnapshotSource {
 public:
  // Called on the node's thread, in zxid order, once per committed transaction.
  virtual void Apply(const Txn& txn) = 0;
  // A snapshot from the leader replaces the state (SNAP sync).
  virtual void Install(const SnapshotData& snapshot) = 0;
  virtual void OnRoleChange(ServerState state, bool serving) = 0;
  virtual void OnEvent(const Event& event) = 0;
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

  // Thread-safe. See Peer::Propose / Peer::ProposeCloseSession.
  Status Propose(std::string payload, uint64_t session = 0);
  Status ProposeCloseSession(uint64_t session);
  // Thread-safe snapshot of the peer's status (for four-letter words).
  PeerStatus Describe() const;
  // Compacts the peer's log after the application made a durable snapshot up to `upto`.
  void CompactLog(Zxid upto);
  // Set when Persist failed; the node has stopped acknowledging anything.
  Status storage_error() const;

 private:
  void Loop();
  void DrainReadys();  // REQUIRES: mu_ held

  PeerConfig config_;
  PeerNetwork* network_;
  ZabStorage* storage_;
  ZabApplication* app_;
  mutable std::mutex mu_;
  std::unique_ptr<Peer> peer_;  // GUARDED_BY(mu_)
  Status storage_error_;        // GUARDED_BY(mu_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace faultline::zab

// quorumd in an ensemble: the bridge between the server's event loop (coord/server.h) and the
// consensus core running on its own thread (coord/zab/ensemble_node.h).
//
// Threads and locks:
//   - the server thread owns sockets, the data tree, sessions and watches; it holds
//     tree_mutex() for each round of its event loop (never while waiting in epoll);
//   - the node thread runs the Peer; it persists through QuorumStorage (under the bridge's
//     storage mutex) and hands everything the server must act on (commits, a snapshot to
//     install, role changes, touched sessions, refused proposals) to an inbox the server
//     drains when the inbox's eventfd is readable;
//   - the node thread takes tree_mutex() only to serialize the tree for a SNAP sync.
// The server never takes the node's own mutex (it uses EnsembleNode's Submit* calls,
// DescribeCached and storage_error), so the two cannot wait on each other.
//
// Client writes become proposals whose payload is
//   origin:u64  seq:u64  EncodeTxn(txn with zxid 0)
// origin is the proposing server's id and seq its local request number, so the server whose
// client asked finds the connection to answer when the commit comes back; every other server
// just applies it. The zxid is the one the quorum gave the proposal.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "coord/config.h"
#include "coord/quorum_storage.h"
#include "coord/txn.h"
#include "coord/zab/ensemble_node.h"
#include "coord/zab/peer_network.h"

namespace faultline::coord {

class DataTree;

// One thing the server thread must do, in the order the node produced them.
struct EnsembleItem {
  enum class Kind { kCommit, kInstall, kRole, kTouched, kRefused, kSync };
  Kind kind = Kind::kCommit;
  Txn txn;                       // kCommit: decoded, with the quorum's zxid
  uint64_t origin = 0;           // kCommit, kRefused: proposing server id (0: a close by the leader)
  uint64_t seq = 0;              // kCommit, kRefused, kSync: its request number
  int64_t sync_zxid = 0;         // kSync: answer once the tree has applied this far
  bool sync_ok = false;          // kSync: false when the sync cannot complete here
  std::string snapshot;          // kInstall: DataTree::Serialize bytes
  int64_t snapshot_zxid = 0;     // kInstall
  zab::ServerState state = zab::ServerState::kLooking;  // kRole
  bool serving = false;          // kRole
  std::vector<uint64_t> sessions;  // kTouched; kRefused: the session of a refused close
};

std::string EncodeProposal(uint64_t origin, uint64_t seq, const Txn& txn);
bool DecodeProposal(std::string_view payload, uint64_t* origin, uint64_t* seq, Txn* txn);

// Builds the core's view of the ensemble from zoo.cfg. Names the file and what is wrong.
Status EnsembleConfigFrom(const Config& config, zab::PeerConfig* peer, std::vector<zab::PeerEndpoint>* members);

class EnsembleBridge : public zab::ZabStorage, public zab::ZabApplication {
 public:
  EnsembleBridge(const Config& config, DataTree* tree, std::mutex* tree_mutex);
  ~EnsembleBridge() override;

  // Opens the storage in log_dir and returns the snapshot to load into the tree (empty when
  // none). Call before Start.
  Status Open(const std::string& log_dir, std::string* snapshot, std::vector<std::string>* warnings);
  // Starts the peer network and the node.
  Status Start();
  void Stop();

  int notify_fd() const { return event_fd_; }
  // Everything queued since the last call (drains the eventfd).
  std::vector<EnsembleItem> Take();

  // Server thread calls, none of which waits for the node thread.
  void Propose(uint64_t seq, const Txn& txn);
  void CloseSession(uint64_t session);
  void Touch(std::vector<uint64_t> sessions);
  // A client's sync; the answer comes back as a kSync item with the same seq.
  void Sync(uint64_t seq);
  zab::PeerStatus Describe() const;
  uint64_t self() const { return peer_config_.id; }
  const zab::PeerConfig& peer_config() const { return peer_config_; }

  // Compaction after the server wrote a snapshot of its tree at zxid (any thread but the
  // node's; never with tree_mutex held).
  faultline::Status SaveSnapshot(int64_t zxid, std::string_view data, int retain);
  int64_t fsync_count() const;
  // Set when persisting failed: the node no longer acknowledges anything.
  faultline::Status storage_error() const;

  // zab::ZabStorage, on the node thread.
  faultline::Status Persist(const zab::Ready& ready) override;
  // zab::ZabApplication, on the node thread.
  zab::SnapshotData TakeSnapshot() override;
  void Apply(const zab::Txn& txn) override;
  void Install(const zab::SnapshotData& snapshot) override;
  void OnRoleChange(zab::ServerState state, bool serving) override;
  void OnEvent(const zab::Event& event) override;
  void OnTouched(const std::vector<uint64_t>& sessions) override;
  void OnRefused(const std::string& payload, uint64_t session, const faultline::Status& why) override;
  void OnSync(uint64_t id, zab::Zxid zxid, bool ok) override;

 private:
  void Push(EnsembleItem item);

  Config config_;
  DataTree* tree_;
  std::mutex* tree_mutex_;
  zab::PeerConfig peer_config_;
  std::vector<zab::PeerEndpoint> members_;
  zab::DurableState restored_;

  mutable std::mutex storage_mu_;
  std::unique_ptr<QuorumStorage> storage_;
  std::unique_ptr<zab::PeerNetwork> network_;
  std::unique_ptr<zab::EnsembleNode> node_;

  std::mutex inbox_mu_;
  std::vector<EnsembleItem> inbox_;  // GUARDED_BY(inbox_mu_)
  int event_fd_ = -1;
};

}  // namespace faultline::coord

// One simulated server: the consensus core, a disk that loses what was not yet fsynced when the
// server crashes, and a tiny application whose whole state is the list of transactions it has
// applied (so a snapshot is that list, and histories can be compared directly).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coord/zab/peer.h"

namespace faultline::sim {

using zab::Txn;
using zab::Zxid;

std::string SerializeHistory(const std::vector<Txn>& history);
std::vector<Txn> DeserializeHistory(const std::string& data);

// What survives a crash.
struct Disk {
  zab::HardState hard_state;
  Zxid snapshot_zxid = 0;
  std::vector<Txn> snapshot;  // the application state the snapshot holds
  std::vector<Txn> log;
};

class SimNode : public zab::SnapshotSource {
 public:
  // lying_disk: acknowledge records as durable as soon as they are handed over, while they
  // still sit in a volatile cache a crash throws away. A deliberately broken disk: the
  // checkers must catch what it does to acknowledged writes.
  explicit SimNode(zab::PeerConfig config, bool lying_disk = false)
      : config_(std::move(config)), lying_disk_(lying_disk) {}

  // Boots from the disk: a new incarnation, the application state is the durable snapshot.
  void Start();
  // Everything not on disk is gone: the peer, the application state, unsynced records.
  void Crash();
  bool alive() const { return peer_ != nullptr; }
  zab::Peer& peer() { return *peer_; }
  const zab::Peer& peer() const { return *peer_; }
  zab::ServerId id() const { return config_.id; }

  // Takes one Ready, queues its records to become durable at tick durable_at (in order, after
  // earlier ones), applies its snapshot and commits to the application. Problems found on the
  // way (an append out of order, a commit going backwards) are added to `problems`.
  zab::Ready TakeReady(int64_t durable_at, std::vector<std::string>* problems);
  // Makes queued records due by `now` durable and acknowledges them to the peer.
  void CompleteFsyncs(int64_t now);
  bool HasPendingFsync() const { return !pending_.empty(); }
  // Snapshot + log compaction, as ZooKeeper does every snapCount transactions.
  void Compact();

  const std::vector<Txn>& history() const { return history_; }
  const Disk& disk() const { return disk_; }
  uint64_t incarnation() const { return incarnation_; }

  zab::SnapshotData TakeSnapshot() override;

 private:
  struct Pending {
    int64_t due;
    uint64_t persist_id;
    std::optional<zab::SnapshotData> install;
    std::optional<Zxid> truncate_after;
    std::vector<Txn> append;
    std::optional<zab::HardState> hard_state;
  };

  zab::PeerConfig config_;
  bool lying_disk_ = false;
  uint64_t incarnation_ = 0;
  std::unique_ptr<zab::Peer> peer_;
  Disk disk_;
  std::deque<Pending> pending_;
  std::vector<Txn> history_;
  std::vector<std::string> disk_problems_;
};

}  // namespace faultline::sim

// The ensemble's durable storage (zab::ZabStorage) in dataDir/version-2, apart from the
// standalone server's log.* and snapshot.* files (storage.h).
//
// Files, all integers big-endian, each header checksummed (crc32c over the bytes before it),
// every zlog/zsnap named by one sequence number (hex) that only grows:
//   zstate         "ZSTA" version:u32 lineage:u64 accepted_epoch:u64 accepted_leader:u64
//                  current_epoch:u64 crc32c:u32. Replaced whole by zstate.tmp + fsync + rename
//                  + directory fsync: the commit point.
//   zlog.<seq>     "ZLOG" version:u32 seq:u64 lineage:u64 prev:u64 crc32c:u32, then records
//                    crc32c:u32 length:u32 zxid:u64 kind:u8 session:u64 payload
//                  (the CRC over length and the rest), then preallocated zeros: an all-zero
//                  record header ends the file. prev is the zxid before the file's first entry:
//                  the files of a lineage chain, each one's prev the last zxid of the one before.
//   zsnap.<seq>    "ZSNP" version:u32 seq:u64 lineage:u64 zxid:u64 length:u64 crc32c:u32 (over
//                  the header and the data), then the application's data. Written as
//                  zsnap.<seq>.tmp, fsynced and renamed.
//
// Lineage: installing a snapshot from the leader replaces state and log. Its files (the
// snapshot, whose seq names the new lineage, and a log following it) are written first and
// count only once zstate names their lineage, so one rename makes the whole batch (snapshot,
// log, hard state) current; a crash before it leaves the old state, and Open removes the
// leftovers. Files of any lineage other than zstate's are leftovers.
//
// Recovery: zstate (none: lineage 0, zero hard state); the lineage's snapshot with the highest
// zxid that validates (older ones are kept as fallbacks); then its log files in seq order. The
// first record that fails its CRC, its framing or the zxid order, or a file that breaks the
// chain, ends the log: the rest is copied aside to <file>.corrupt, cut and reported.
//
// Thread safety: Persist and SaveSnapshot may be called from different threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "coord/zab/ensemble_node.h"

namespace faultline::coord {

class QuorumStorage : public zab::ZabStorage {
 public:
  // Opens (creating if missing) dir (dataDir/version-2). Returns what survived: the hard state,
  // the newest valid snapshot's zxid and data (empty data and zxid 0 when none), and every log
  // entry after the snapshot in zxid order. A torn or corrupt tail is cut (copied aside to a
  // .corrupt file) with a message in *warnings, never applied.
  static Status Open(const std::string& dir, bool force_sync, std::unique_ptr<QuorumStorage>* out,
                     zab::DurableState* restored, std::string* snapshot_data,
                     std::vector<std::string>* warnings);
  ~QuorumStorage() override;
  QuorumStorage(const QuorumStorage&) = delete;
  QuorumStorage& operator=(const QuorumStorage&) = delete;

  // Durable on return (the log is fdatasynced unless force_sync is false; zstate and snapshots
  // are always fsynced), in the order peer.h gives: install_snapshot, truncate_after, append,
  // hard_state. A Ready with install_snapshot is atomic across a crash. After a failure every
  // later call fails the same way.
  Status Persist(const zab::Ready& ready) override;
  // The application's own snapshot of its state at zxid (for compaction): written atomically,
  // then the log rolls to a new file. Keeps the newest `retain` snapshots and removes the log
  // files only older snapshots need.
  Status SaveSnapshot(zab::Zxid zxid, std::string_view data, int retain = 3);

  // Figures for mntr.
  int64_t fsync_count() const { return fsyncs_.load(); }
  zab::Zxid last_logged() const { return last_logged_.load(); }

 private:
  struct Segment {  // one zlog file of the current lineage
    uint64_t seq = 0;
    zab::Zxid prev = 0;
    std::vector<std::pair<zab::Zxid, uint64_t>> recs;  // zxid, offset after the record
    zab::Zxid tail() const { return recs.empty() ? prev : recs.back().first; }
  };
  struct Snap {  // one zsnap file of the current lineage
    uint64_t seq = 0;
    zab::Zxid zxid = 0;
  };
  struct Active {  // the log file being appended to
    int fd = -1;
    uint64_t pos = 0;    // offset of the next record
    uint64_t alloc = 0;  // bytes reserved on disk
  };

  QuorumStorage(std::string dir, bool force_sync) : dir_(std::move(dir)), force_sync_(force_sync) {}
  Status Recover(zab::DurableState* restored, std::string* snapshot_data,
                 std::vector<std::string>* warnings);
  Status OpenActive();
  Status Install(const zab::Ready& ready);
  Status Truncate(zab::Zxid after);
  Status Append(Active* file, Segment* seg, const std::vector<zab::Txn>& txns, zab::Zxid floor);
  Status CreateLog(uint64_t seq, uint64_t lineage, zab::Zxid prev, Active* out);
  Status Reserve(Active* file, uint64_t end);
  Status WriteState(uint64_t lineage, const zab::HardState& hs);
  Status WriteSnap(uint64_t seq, uint64_t lineage, zab::Zxid zxid, std::string_view data);
  Status AtomicWrite(const std::string& path, std::string_view head, std::string_view body,
                     bool* renamed = nullptr);
  Status SyncLog(int fd);  // fdatasync unless force_sync is false
  Status SyncDir();
  std::string Path(const char* prefix, uint64_t seq) const;
  void UpdateLastLogged();

  const std::string dir_;
  const bool force_sync_;
  std::mutex mu_;
  Status failed_;              // GUARDED_BY(mu_): sticky after a failed Persist
  uint64_t lineage_ = 0;       // GUARDED_BY(mu_): the seq of the snapshot that began it
  uint64_t next_seq_ = 1;      // GUARDED_BY(mu_)
  zab::HardState hard_;        // GUARDED_BY(mu_)
  std::vector<Segment> segs_;  // GUARDED_BY(mu_): in seq order; back() is active_
  std::vector<Snap> snaps_;    // GUARDED_BY(mu_): in zxid order
  Active active_;              // GUARDED_BY(mu_)
  std::atomic<int64_t> fsyncs_{0};
  std::atomic<zab::Zxid> last_logged_{0};
};

}  // namespace faultline::coord

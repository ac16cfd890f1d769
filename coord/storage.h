// Durable storage in dataDir/version-2: the transaction log and snapshots.
//
// Log files are named log.<first zxid, hex>; each starts with a 16-byte header
// ("QLOG", version:int, reserved:long) and holds records
//   crc32c:u32  length:u32  payload (EncodeTxn, txn.h)
// with the CRC over length and payload. Files are preallocated in chunks, so the tail of
// a file is zeros: an all-zero record header marks the end. zxids run without gaps.
//
// Snapshot files are named snapshot.<last zxid, hex>:
//   "QSNF"  crc32c:u32  length:u64  payload (DataTree::Serialize)
// written to a temporary name, fsynced and renamed, so a snapshot either exists whole
// or not at all.
//
// Recovery: the newest snapshot that validates, then every log record after it. The first
// record that fails its CRC, its framing or the zxid sequence ends the log: what follows it
// is copied aside to <log>.corrupt, cut from the log and reported, never applied.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "coord/data_tree.h"
#include "coord/txn.h"

namespace faultline::coord {

uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

inline constexpr size_t kLogHeaderSize = 16;
inline constexpr size_t kSnapshotHeaderSize = 16;  // "QSNF" crc32c:u32 length:u64
inline constexpr uint32_t kMaxRecordSize = 64u << 20;

// The outcome of reading one log file's bytes.
struct LogScan {
  size_t valid_end = 0;    // offset after the last good record
  size_t records = 0;
  bool bad_header = false;
  bool corrupt = false;    // something other than zeros follows valid_end
  std::string reason;      // why the scan stopped, when corrupt
};
// Calls on_txn for each good record in order; stops at the first bad one. expected_zxid
// is the zxid the first record must carry, or 0 to accept any start.
LogScan ScanLog(std::string_view bytes, int64_t expected_zxid, const std::function<void(const Txn&)>& on_txn);

// Encodes one log record (header included) for a Txn.
std::string EncodeLogRecord(const Txn& txn);

// Writes len zero bytes at offset, to reserve log space; returns how many it wrote, and
// when that is short of len sets *err to why (ENOSPC when a write wrote nothing).
uint64_t WriteZeros(int fd, uint64_t offset, uint64_t len, int* err);

// Takes records from the server thread and makes them durable on its own sync thread,
// which does all the writing and syncing: the server thread only buffers, so it never
// waits behind an fsync, and everything queued while one fsync runs goes out with the
// next one (group commit).
class TxnLogWriter {
 public:
  TxnLogWriter(std::string dir, int64_t prealloc_bytes, bool force_sync);
  ~TxnLogWriter();
  TxnLogWriter(const TxnLogWriter&) = delete;
  TxnLogWriter& operator=(const TxnLogWriter&) = delete;

  // Starts a new log file log.<first_zxid>. REQUIRES: the server thread.
  Status Open(int64_t first_zxid);
  // Buffers one record. Fails, buffering nothing, when no room can be reserved on disk.
  Status Append(const Txn& txn);
  // Hands what Append buffered to the sync thread; a lone record, while that thread is idle
  // and the disk quick (the last sync under 2 ms), is written and synced here instead
  // (durable_zxid() covers it on return). Write errors surface as failed() either way.
  Status Flush();
  // Closes the current file (its fsync is still owed and done by the sync thread) and
  // opens log.<next_zxid>.
  Status Roll(int64_t next_zxid);

  int64_t durable_zxid() const { return durable_zxid_.load(std::memory_order_acquire); }
  int64_t written_zxid() const { return buffered_zxid_; }
  // Readable (eventfd) whenever durable_zxid advanced; DrainNotify resets it.
  int notify_fd() const { return event_fd_; }
  void DrainNotify();
  // A fatal sync error, once seen by the sync thread.
  bool failed() const { return failed_.load(); }

  // Figures for mntr.
  int64_t fsync_count() const { return fsync_count_.load(); }
  int64_t fsync_micros_total() const { return fsync_micros_.load(); }
  int64_t fsync_micros_max() const { return fsync_micros_max_.load(); }

 private:
  void SyncLoop();
  Status Reserve(size_t end);

  std::string dir_;
  int64_t prealloc_;
  bool force_sync_;
  int event_fd_ = -1;

  // Server-thread state.
  int fd_ = -1;
  size_t pos_ = 0;          // file offset of the next record, buffered ones included
  size_t alloc_end_ = 0;    // bytes reserved on disk
  std::string buffer_;
  int64_t buffered_zxid_ = 0;
  int buffered_records_ = 0;

  struct Chunk {
    int fd;
    size_t offset;
    std::string bytes;
  };
  // What Append buffered, as one chunk; the buffer is left empty. Server thread.
  Chunk TakeBuffered();
  // Writes the chunks, fdatasyncs them and the retiring files, then marks `target` durable
  // (and wakes the loop when `notify`). False, with failed() set, on an error.
  bool WriteAndSync(const std::vector<Chunk>& chunks, const std::vector<int>& retiring, int64_t target, bool notify);
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Chunk> queue_;         // GUARDED_BY(mu_): records to write, in order
  std::vector<int> retiring_;        // GUARDED_BY(mu_): rolled files still owed an fsync
  int64_t written_zxid_ = 0;         // GUARDED_BY(mu_): the last zxid in queue_
  bool stop_ = false;                // GUARDED_BY(mu_)
  bool busy_ = false;                // GUARDED_BY(mu_): records are being written and synced
  std::atomic<int64_t> durable_zxid_{0};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> fsync_count_{0};
  std::atomic<int64_t> fsync_micros_{0};
  std::atomic<int64_t> fsync_micros_max_{0};
  std::atomic<int64_t> last_sync_micros_{0};  // the latest write-and-fsync's time
  static constexpr int64_t kInlineSyncMicros = 2000;
  std::thread sync_thread_;
};

// Writes snapshot.<zxid> atomically into dir. Leaves nothing behind on failure.
Status WriteSnapshot(const std::string& dir, int64_t zxid, std::string_view payload);

// The same file written in pieces, so a snapshot can go from the tree to the file without
// a copy of the whole tree in memory, and in two steps, so the slow part can run on
// another thread: Write() puts payload bytes in snapshot.<zxid>.tmp, Commit() fills in the
// header, fsyncs and renames it into place. A writer destroyed uncommitted (or whose
// Write or Commit failed) removes its temporary file. One thread at a time.
class SnapshotWriter {
 public:
  SnapshotWriter(std::string dir, int64_t zxid);
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  Status Open();
  Status Write(std::string_view bytes);
  Status Commit();

 private:
  Status Fail(const std::string& what);

  std::string dir_;
  std::string name_;
  std::string tmp_;
  int fd_ = -1;
  uint32_t crc_ = 0;
  uint64_t length_ = 0;
};

// Removes snapshots beyond the newest `retain` and the logs only they needed.
void PurgeOldFiles(const std::string& dir, int retain);

struct RecoveryResult {
  int64_t snapshot_zxid = -1;  // -1: no valid snapshot
  int64_t replayed = 0;
  int64_t last_zxid = 0;
  bool log_cut = false;
  int64_t snapshot_millis = 0;
  int64_t replay_millis = 0;
};

// Loads dir (creating it when missing) into tree.
Status Recover(const std::string& dir, DataTree* tree, RecoveryResult* result);

// The files of a kind ("log." or "snapshot.") in dir with their zxids, ascending.
std::vector<std::pair<int64_t, std::string>> ListZxidFiles(const std::string& dir, const std::string& prefix);

}  // namespace faultline::coord

#include "coord/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "coord/jute.h"
#include "coord/log.h"

namespace faultline::coord {

namespace {

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

const std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

std::string ErrnoText(int e) { return std::strerror(e); }

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::Unavailable(dir + ": " + ErrnoText(errno));
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0) return Status::Unavailable(dir + ": fsync: " + ErrnoText(e));
  return Status::Ok();
}

Status ReadWholeFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::Unavailable(path + ": " + ErrnoText(errno));
  struct stat st;
  fstat(fd, &st);
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(got);
  return Status::Ok();
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

#if defined(__x86_64__)
// The SSE4.2 instruction computes the same CRC-32C eight bytes at a time; recovery and
// snapshots checksum tens of megabytes, where the table loop would dominate start-up.
__attribute__((target("sse4.2"))) static uint32_t Crc32cHardware(std::string_view data, uint32_t crc) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p++));
  return c32;
}
#endif

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
#if defined(__x86_64__)
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  if (kHardware) return ~Crc32cHardware(data, crc);
#endif
  for (unsigned char c : data) crc = kCrcTable[(crc ^ c) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string EncodeLogRecord(const Txn& txn) {
  std::string payload = EncodeTxn(txn);
  std::string rec;
  rec.reserve(8 + payload.size());
  std::string len;
  PutU32(&len, static_cast<uint32_t>(payload.size()));
  uint32_t crc = Crc32c(payload, Crc32c(len));
  PutU32(&rec, crc);
  rec += len;
  rec += payload;
  return rec;
}

LogScan ScanLog(std::string_view bytes, int64_t expected_zxid, const std::function<void(const Txn&)>& on_txn) {
  LogScan scan;
  if (bytes.size() < kLogHeaderSize || bytes.substr(0, 4) != "QLOG" || GetU32(bytes.data() + 4) != 1) {
    scan.bad_header = true;
    scan.corrupt = !bytes.empty();
    scan.reason = "bad or missing log file header";
    return scan;
  }
  size_t pos = kLogHeaderSize;
  scan.valid_end = pos;
  int64_t want = expected_zxid;
  while (pos + 8 <= bytes.size()) {
    uint32_t crc = GetU32(bytes.data() + pos);
    uint32_t len = GetU32(bytes.data() + pos + 4);
    if (crc == 0 && len == 0) break;  // preallocated zeros: the end
    if (len == 0 || len > kMaxRecordSize || len > bytes.size() - pos - 8) {
      scan.corrupt = true;
      scan.reason = "record length " + std::to_string(len) + " does not fit";
      return scan;
    }
    std::string_view body = bytes.substr(pos + 8, len);
    if (Crc32c(body, Crc32c(bytes.substr(pos + 4, 4))) != crc) {
      scan.corrupt = true;
      scan.reason = "checksum mismatch";
      return scan;
    }
    Txn txn;
    if (!DecodeTxn(body, &txn)) {
      scan.corrupt = true;
      scan.reason = "undecodable transaction";
      return scan;
    }
    if (want != 0 && txn.zxid != want) {
      scan.corrupt = true;
      scan.reason = "zxid " + Hex(txn.zxid) + " where " + Hex(want) + " was expected";
      return scan;
    }
    want = txn.zxid + 1;
    on_txn(txn);
    pos += 8 + len;
    scan.valid_end = pos;
    ++scan.records;
  }
  // Past the end marker only zeros may follow; anything else is damage after a record
  // whose header was zeroed.
  for (size_t i = scan.valid_end; i < bytes.size(); ++i) {
    if (bytes[i] != 0) {
      scan.corrupt = true;
      scan.reason = (pos + 8 > bytes.size()) ? "torn record header" : "data after the end of the log";
      break;
    }
  }
  return scan;
}

TxnLogWriter::TxnLogWriter(std::string dir, int64_t prealloc_bytes, bool force_sync)
    : dir_(std::move(dir)), prealloc_(prealloc_bytes), force_sync_(force_sync) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  sync_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "SyncThread:0");
    SyncLoop();
  });
}

TxnLogWriter::~TxnLogWriter() {
  Flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sync_thread_.join();
  if (fd_ >= 0) close(fd_);
  if (event_fd_ >= 0) close(event_fd_);
}

Status TxnLogWriter::Open(int64_t first_zxid) {
  std::string name = dir_ + "/log." + fmt::format("{:x}", first_zxid);
  int fd = open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable(name + ": " + ErrnoText(errno));
  std::string header = "QLOG";
  PutU32(&header, 1);
  header.append(8, '\0');
  if (pwrite(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
    int e = errno;
    close(fd);
    unlink(name.c_str());
    return Status::Unavailable(name + ": " + ErrnoText(e));
  }
  int old_fd = fd_;
  size_t old_pos = pos_, old_alloc = alloc_end_;
  fd_ = fd;
  pos_ = kLogHeaderSize;
  alloc_end_ = kLogHeaderSize;
  Status st = Reserve(kLogHeaderSize + 1);
  if (!st.ok()) {
    fd_ = old_fd;
    pos_ = old_pos;
    alloc_end_ = old_alloc;
    close(fd);
    unlink(name.c_str());
    return Status::Unavailable(name + ": " + st.message());
  }
  FAULTLINE_RETURN_IF_ERROR(SyncDir(dir_));
  Log(LogLevel::kInfo, "FileTxnLog@0", "Creating new log file: log.{:x}", first_zxid);
  if (old_fd >= 0) {
    std::lock_guard<std::mutex> lock(mu_);
    retiring_.push_back(old_fd);
  }
  cv_.notify_all();
  return Status::Ok();
}

// Space is reserved by writing zeros and syncing them once, not with fallocate: blocks
// that hold written data make every later fdatasync a pure data flush, where unwritten
// extents would cost a journal commit on each one. A full disk shows up here, before any
// transaction is accepted, never in the middle of a record.
Status TxnLogWriter::Reserve(size_t end) {
  if (end <= alloc_end_) return Status::Ok();
  size_t step = std::min<size_t>(static_cast<size_t>(prealloc_), 4u << 20);
  size_t want = std::max(end, alloc_end_ + step);
  int err = 0;
  size_t at = alloc_end_ + static_cast<size_t>(WriteZeros(fd_, alloc_end_, want - alloc_end_, &err));
  if (at < end) {
    return Status::Unavailable("cannot reserve space in the transaction log: " + ErrnoText(err ? err : ENOSPC));
  }
  if (fdatasync(fd_) != 0) {
    return Status::Unavailable("cannot reserve space in the transaction log: fdatasync: " + ErrnoText(errno));
  }
  alloc_end_ = at;
  return Status::Ok();
}

uint64_t WriteZeros(int fd, uint64_t offset, uint64_t len, int* err) {
  // One small block of zeros, repeated: a megabyte of them would stay resident for good.
  static const char kZeros[64 << 10] = {};
  constexpr size_t kBlocks = 16;
  uint64_t done = 0;
  while (done < len) {
    iovec iov[kBlocks];
    size_t count = 0;
    for (uint64_t left = len - done; count < kBlocks && left > 0; ++count) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof kZeros, left));
      iov[count] = iovec{const_cast<char*>(kZeros), n};
      left -= n;
    }
    ssize_t w = pwritev(fd, iov, static_cast<int>(count), static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      *err = w < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<uint64_t>(w);
  }
  return done;
}

Status TxnLogWriter::Append(const Txn& txn) {
  std::string rec = EncodeLogRecord(txn);
  FAULTLINE_RETURN_IF_ERROR(Reserve(pos_ + rec.size()));
  buffer_ += rec;
  buffered_records_++;
  pos_ += rec.size();
  buffered_zxid_ = txn.zxid;
  return Status::Ok();
}

Status TxnLogWriter::Flush() {
  if (buffer_.empty()) return Status::Ok();
  // A lone record with the sync thread idle is written and synced here, on the server
  // thread: handing it over and being woken back cost two thread wake-ups, as much again as
  // the fsync itself on this kind of machine (one client's writes went from about 3,300/s to
  // 5,000/s). Anything more goes to the sync thread, so that reading and preparing the next
  // requests overlaps the fsync (group commit). So does everything while the disk is slow
  // (the last fsync took over kInlineSyncMicros): the loop must not stop serving reads,
  // pings and four-letter words behind a disk that takes its time.
  if (buffered_records_ == 1 && last_sync_micros_.load(std::memory_order_relaxed) <= kInlineSyncMicros) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!busy_ && queue_.empty() && retiring_.empty() && !failed_.load()) {
      busy_ = true;
      written_zxid_ = buffered_zxid_;
      lock.unlock();
      WriteAndSync({TakeBuffered()}, {}, buffered_zxid_, false);
      lock.lock();
      busy_ = false;
      return Status::Ok();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(TakeBuffered());
    written_zxid_ = buffered_zxid_;
  }
  cv_.notify_all();
  return Status::Ok();
}

TxnLogWriter::Chunk TxnLogWriter::TakeBuffered() {
  Chunk c{fd_, pos_ - buffer_.size(), std::move(buffer_)};
  buffer_.clear();
  buffered_records_ = 0;
  return c;
}

Status TxnLogWriter::Roll(int64_t next_zxid) {
  FAULTLINE_RETURN_IF_ERROR(Flush());
  return Open(next_zxid);
}

void TxnLogWriter::DrainNotify() {
  // One read takes the eventfd's whole count and resets it.
  uint64_t v;
  while (read(event_fd_, &v, sizeof v) < 0 && errno == EINTR) {
  }
}

void TxnLogWriter::SyncLoop() {
  for (;;) {
    int64_t target;
    std::vector<Chunk> chunks;
    std::vector<int> retiring;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || (!busy_ && (!queue_.empty() || !retiring_.empty())); });
      if (stop_ && queue_.empty() && retiring_.empty()) break;
      target = written_zxid_;
      chunks.swap(queue_);
      retiring.swap(retiring_);
      busy_ = true;
    }
    bool ok = WriteAndSync(chunks, retiring, target, true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    if (!ok) return;
  }
}

bool TxnLogWriter::WriteAndSync(const std::vector<Chunk>& chunks, const std::vector<int>& retiring, int64_t target,
                                bool notify) {
  int64_t start = NowMicros();
  bool ok = true;
  std::string what;
  std::vector<int> touched;
  for (const Chunk& c : chunks) {
    size_t done = 0;
    while (ok && done < c.bytes.size()) {
      ssize_t n = pwrite(c.fd, c.bytes.data() + done, c.bytes.size() - done, static_cast<off_t>(c.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        what = "write: " + ErrnoText(n < 0 ? errno : EIO);
        break;
      }
      done += static_cast<size_t>(n);
    }
    if (std::find(touched.begin(), touched.end(), c.fd) == touched.end()) touched.push_back(c.fd);
  }
  for (int r : retiring) {
    if (std::find(touched.begin(), touched.end(), r) == touched.end()) touched.push_back(r);
  }
  for (int fd : touched) {
    if (ok && force_sync_ && fdatasync(fd) != 0) {
      ok = false;
      what = "fdatasync: " + ErrnoText(errno);
    }
  }
  for (int r : retiring) close(r);
  if (!ok) {
    // After a failed write or fsync the kernel may have dropped the dirty pages: nothing
    // since the last good fsync can be trusted, so no more acknowledgements.
    Log(LogLevel::kError, "SyncRequestProcessor@0", "Severe unrecoverable error, exiting: transaction log {}", what);
    failed_ = true;
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
    return false;
  }
  if (chunks.empty()) return true;
  int64_t took = NowMicros() - start;
  last_sync_micros_.store(took, std::memory_order_relaxed);
  fsync_count_++;
  fsync_micros_ += took;
  if (took > fsync_micros_max_.load()) fsync_micros_max_ = took;
  if (took > 1000000) {
    Log(LogLevel::kWarn, "FileTxnLog@0",
        "fsync-ing the write ahead log in SyncThread:0 took {}ms which will adversely effect operation latency.",
        took / 1000);
  }
  durable_zxid_.store(target, std::memory_order_release);
  if (notify) {
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
  return true;
}

Status WriteSnapshot(const std::string& dir, int64_t zxid, std::string_view payload) {
  SnapshotWriter file(dir, zxid);
  FAULTLINE_RETURN_IF_ERROR(file.Open());
  FAULTLINE_RETURN_IF_ERROR(file.Write(payload));
  return file.Commit();
}

SnapshotWriter::SnapshotWriter(std::string dir, int64_t zxid)
    : dir_(std::move(dir)), name_(dir_ + "/snapshot." + fmt::format("{:x}", zxid)), tmp_(name_ + ".tmp") {}

SnapshotWriter::~SnapshotWriter() {
  if (fd_ < 0) return;
  close(fd_);
  unlink(tmp_.c_str());
}

Status SnapshotWriter::Fail(const std::string& what) {
  int e = errno;
  if (fd_ >= 0) {
    close(fd_);
    unlink(tmp_.c_str());
    fd_ = -1;
  }
  return Status::Unavailable(tmp_ + ": " + what + ": " + ErrnoText(e));
}

Status SnapshotWriter::Open() {
  fd_ = open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::Unavailable(tmp_ + ": " + ErrnoText(errno));
  // The header (checksum and length) is known only at the end; Commit() writes it.
  if (lseek(fd_, static_cast<off_t>(kSnapshotHeaderSize), SEEK_SET) < 0) return Fail("seek");
  return Status::Ok();
}

Status SnapshotWriter::Write(std::string_view bytes) {
  if (fd_ < 0) return Status::Unavailable(tmp_ + ": not open");
  crc_ = Crc32c(bytes, crc_);
  length_ += bytes.size();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail("write");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SnapshotWriter::Commit() {
  if (fd_ < 0) return Status::Unavailable(tmp_ + ": not open");
  std::string header = "QSNF";
  PutU32(&header, crc_);
  PutU32(&header, static_cast<uint32_t>(length_ >> 32));
  PutU32(&header, static_cast<uint32_t>(length_));
  size_t done = 0;
  while (done < header.size()) {
    ssize_t n = pwrite(fd_, header.data() + done, header.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail("write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd_) != 0) return Fail("fsync");
  close(fd_);
  fd_ = -1;
  if (rename(tmp_.c_str(), name_.c_str()) != 0) {
    int e = errno;
    unlink(tmp_.c_str());
    return Status::Unavailable(name_ + ": rename: " + ErrnoText(e));
  }
  return SyncDir(dir_);
}

std::vector<std::pair<int64_t, std::string>> ListZxidFiles(const std::string& dir, const std::string& prefix) {
  std::vector<std::pair<int64_t, std::string>> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    std::string hex = name.substr(prefix.size());
    if (hex.empty() || hex.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    out.emplace_back(static_cast<int64_t>(std::stoull(hex, nullptr, 16)), dir + "/" + name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void PurgeOldFiles(const std::string& dir, int retain) {
  auto snaps = ListZxidFiles(dir, "snapshot.");
  if (static_cast<int>(snaps.size()) <= retain) return;
  int64_t oldest_kept = snaps[snaps.size() - static_cast<size_t>(retain)].first;
  for (size_t i = 0; i + static_cast<size_t>(retain) < snaps.size(); ++i) unlink(snaps[i].second.c_str());
  auto logs = ListZxidFiles(dir, "log.");
  // A log is still needed if it holds any zxid above the oldest kept snapshot: keep the
  // last log starting at or below oldest_kept + 1 and everything after it.
  for (size_t i = 0; i + 1 < logs.size(); ++i) {
    if (logs[i + 1].first <= oldest_kept + 1) unlink(logs[i].second.c_str());
  }
}

Status Recover(const std::string& dir, DataTree* tree, RecoveryResult* result) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Unavailable(dir + ": cannot create: " + ErrnoText(errno));
  }
  int64_t t0 = NowMicros();
  auto snaps = ListZxidFiles(dir, "snapshot.");
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    Log(LogLevel::kInfo, "FileSnap@0", "Reading snapshot {}", it->second);
    std::string bytes;
    Status st = ReadWholeFile(it->second, &bytes);
    bool ok = st.ok() && bytes.size() >= kSnapshotHeaderSize && bytes.substr(0, 4) == "QSNF";
    if (ok) {
      uint32_t crc = GetU32(bytes.data() + 4);
      uint64_t len = (uint64_t{GetU32(bytes.data() + 8)} << 32) | GetU32(bytes.data() + 12);
      std::string_view payload = std::string_view(bytes).substr(kSnapshotHeaderSize);
      ok = payload.size() == len && Crc32c(payload) == crc && tree->Deserialize(payload);
    }
    if (ok) {
      result->snapshot_zxid = tree->last_zxid();
      break;
    }
    Log(LogLevel::kWarn, "FileSnap@0", "problem reading snap file {}: not a valid quorumd snapshot; trying an older one",
        it->second);
  }
  int64_t t1 = NowMicros();
  result->snapshot_millis = (t1 - t0) / 1000;

  auto logs = ListZxidFiles(dir, "log.");
  int64_t base = result->snapshot_zxid < 0 ? 0 : result->snapshot_zxid;
  size_t first = 0;
  for (size_t i = 0; i < logs.size(); ++i) {
    if (logs[i].first <= base + 1) first = i;
  }
  if (!logs.empty() && logs[first].first > base + 1) {
    return Status::Internal(fmt::format("{}: transaction log gap: state is at {} but the oldest log starts at {}",
                                        dir, Hex(base), Hex(logs[first].first)));
  }
  for (size_t i = first; i < logs.size(); ++i) {
    std::string bytes;
    FAULTLINE_RETURN_IF_ERROR(ReadWholeFile(logs[i].second, &bytes));
    int64_t expected = logs[i].first;
    LogScan scan = ScanLog(bytes, expected, [&](const Txn& txn) {
      if (txn.zxid <= tree->last_zxid()) return;
      tree->Apply(txn);
      result->replayed++;
    });
    if (!scan.corrupt) continue;
    result->log_cut = true;
    size_t cut_at = scan.bad_header ? 0 : scan.valid_end;
    std::string aside = logs[i].second + ".corrupt";
    // The preallocated zeros after the damage carry nothing worth keeping.
    size_t keep_end = bytes.size();
    while (keep_end > cut_at && bytes[keep_end - 1] == 0) --keep_end;
    int fd = open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!write(fd, bytes.data() + cut_at, keep_end - cut_at);
      fsync(fd);
      close(fd);
    }
    Log(LogLevel::kError, "FileTxnLog@0",
        "Corrupted or torn transaction log {} at offset {} ({}); last valid zxid {}; cutting {} bytes of "
        "records (kept in {}) and ignoring {} later log file(s)",
        logs[i].second, cut_at, scan.reason, Hex(tree->last_zxid()), keep_end - cut_at, aside,
        logs.size() - i - 1);
    if (truncate(logs[i].second.c_str(), static_cast<off_t>(cut_at)) != 0) {
      return Status::Unavailable(logs[i].second + ": cannot cut the damaged tail: " + ErrnoText(errno));
    }
    for (size_t j = i + 1; j < logs.size(); ++j) {
      std::string moved = logs[j].second + ".corrupt";
      rename(logs[j].second.c_str(), moved.c_str());
    }
    SyncDir(dir);
    break;
  }
  result->replay_millis = (NowMicros() - t1) / 1000;
  result->last_zxid = tree->last_zxid();
  return Status::Ok();
}

}  // namespace faultline::coord

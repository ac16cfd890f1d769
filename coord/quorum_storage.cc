#include "coord/quorum_storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "coord/storage.h"  // Crc32c, WriteZeros

namespace faultline::coord {

using zab::Zxid;
using zab::ZxidHex;

namespace {

constexpr uint32_t kVersion = 1;
constexpr size_t kLogHeader = 36;   // magic, version, 3 fields, crc
constexpr size_t kSnapHeader = 44;  // magic, version, 4 fields, crc
constexpr size_t kRecordBody = 17;  // zxid, kind, session before the payload
constexpr uint32_t kMaxRecord = 64u << 20;
constexpr uint64_t kReserveChunk = 4u << 20;

void Put32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void Put64(std::string* out, uint64_t v) {
  Put32(out, static_cast<uint32_t>(v >> 32));
  Put32(out, static_cast<uint32_t>(v));
}
uint32_t Get32(std::string_view b, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data() + at);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
uint64_t Get64(std::string_view b, size_t at) {
  return (uint64_t{Get32(b, at)} << 32) | Get32(b, at + 4);
}

std::string Err(int e) { return std::strerror(e); }

// Returns 0 or the errno of the failure.
int PwriteAll(int fd, std::string_view bytes, uint64_t offset) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Reads up to max bytes of path; returns 0 or the errno of the failure.
int ReadFile(const std::string& path, std::string* out, size_t max = SIZE_MAX) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0) st.st_size = 0;
  out->resize(std::min(static_cast<size_t>(st.st_size), max));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(got);
  return 0;
}

// magic, version:u32, the fields as u64, crc32c:u32 over the header before it and `covered`.
std::string Header(std::string_view magic, std::initializer_list<uint64_t> fields, std::string_view covered = {}) {
  std::string h(magic);
  Put32(&h, kVersion);
  for (uint64_t f : fields) Put64(&h, f);
  Put32(&h, Crc32c(covered, Crc32c(h)));
  return h;
}

// Reads the n fields of a Header into f; false when b does not start with a valid one (the
// CRC is only checked when check_crc).
bool ReadHeader(std::string_view b, std::string_view magic, size_t n, uint64_t* f, bool check_crc = true,
                std::string_view covered = {}) {
  size_t size = 12 + 8 * n;
  if (b.size() < size || b.substr(0, 4) != magic || Get32(b, 4) != kVersion) return false;
  if (check_crc && Crc32c(covered, Crc32c(b.substr(0, size - 4))) != Get32(b, size - 4)) return false;
  for (size_t i = 0; i < n; ++i) f[i] = Get64(b, 8 + 8 * i);
  return true;
}

std::string EncodeRecord(const zab::Txn& txn) {
  std::string body;
  Put64(&body, txn.zxid);
  body.push_back(static_cast<char>(txn.kind));
  Put64(&body, txn.session);
  body += txn.payload;
  std::string len;
  Put32(&len, static_cast<uint32_t>(body.size()));
  std::string rec;
  Put32(&rec, Crc32c(body, Crc32c(len)));
  return rec + len + body;
}

// Reads the records after a log file's header into recs (the file starts after prev), and
// those above floor into log. Returns why it stopped early ("" at a clean end); *end is the
// offset after the last good record.
std::string ScanRecords(std::string_view b, Zxid prev, std::vector<std::pair<Zxid, uint64_t>>* recs,
                        Zxid floor, std::vector<zab::Txn>* log, uint64_t* end) {
  size_t pos = kLogHeader;
  *end = pos;
  while (pos + 8 <= b.size()) {
    uint32_t crc = Get32(b, pos), len = Get32(b, pos + 4);
    if (crc == 0 && len == 0) break;  // preallocated zeros: the end
    if (len < kRecordBody || len > kMaxRecord) return fmt::format("bad record length {}", len);
    if (len > b.size() - pos - 8) return fmt::format("torn record ({} bytes of {})", b.size() - pos - 8, len);
    std::string_view body = b.substr(pos + 8, len);
    if (Crc32c(body, Crc32c(b.substr(pos + 4, 4))) != crc) return "checksum mismatch";
    auto kind = static_cast<uint8_t>(body[8]);
    if (kind > static_cast<uint8_t>(zab::TxnKind::kCloseSession)) return "unknown transaction kind";
    zab::Txn txn{Get64(body, 0), static_cast<zab::TxnKind>(kind), Get64(body, 9),
                 std::string(body.substr(kRecordBody))};
    Zxid last = recs->empty() ? prev : recs->back().first;
    if (txn.zxid <= last) return fmt::format("zxid {} after {}", ZxidHex(txn.zxid), ZxidHex(last));
    pos += 8 + len;
    *end = pos;
    recs->emplace_back(txn.zxid, pos);
    if (txn.zxid > floor) log->push_back(std::move(txn));
  }
  for (size_t i = *end; i < b.size(); ++i) {
    if (b[i] != 0) return pos + 8 > b.size() ? "torn record header" : "data after the end of the log";
  }
  return "";
}

std::string EncodeState(uint64_t lineage, const zab::HardState& hs) {
  return Header("ZSTA", {lineage, hs.accepted_epoch, hs.accepted_leader, hs.current_epoch});
}

// The files "<prefix><hex seq>[suffix]" in dir, by seq.
std::vector<std::pair<uint64_t, std::string>> List(const std::string& dir, std::string_view prefix) {
  std::vector<std::pair<uint64_t, std::string>> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    name.remove_prefix(prefix.size());
    size_t n = std::min(name.find('.'), name.size());
    std::string hex(name.substr(0, n));
    if (hex.empty() || hex.size() > 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    out.emplace_back(std::stoull(hex, nullptr, 16), std::string(name.substr(n)));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

QuorumStorage::~QuorumStorage() {
  if (active_.fd >= 0) close(active_.fd);
}

std::string QuorumStorage::Path(const char* prefix, uint64_t seq) const {
  return fmt::format("{}/{}{:x}", dir_, prefix, seq);
}

Status QuorumStorage::Open(const std::string& dir, bool force_sync, std::unique_ptr<QuorumStorage>* out,
                           zab::DurableState* restored, std::string* snapshot_data,
                           std::vector<std::string>* warnings) {
  std::unique_ptr<QuorumStorage> s(new QuorumStorage(dir, force_sync));
  *restored = zab::DurableState{};
  snapshot_data->clear();
  FAULTLINE_RETURN_IF_ERROR(s->Recover(restored, snapshot_data, warnings));
  *out = std::move(s);
  return Status::Ok();
}

Status QuorumStorage::Recover(zab::DurableState* restored, std::string* snapshot_data,
                              std::vector<std::string>* warnings) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Unavailable(dir_ + ": cannot create: " + ec.message());
  std::string b;
  uint64_t f[4];
  if (int e = ReadFile(dir_ + "/zstate", &b); e == 0) {
    if (!ReadHeader(b, "ZSTA", 4, f)) {
      return Status::Internal(dir_ + "/zstate: damaged, so the epochs this server promised are unknown");
    }
    lineage_ = f[0];
    hard_ = zab::HardState{static_cast<uint32_t>(f[1]), f[2], static_cast<uint32_t>(f[3])};
  } else if (e != ENOENT) {
    return Status::Unavailable(dir_ + "/zstate: " + Err(e));
  }
  auto note = [&](std::string w) { warnings->push_back(std::move(w)); };
  if (unlink((dir_ + "/zstate.tmp").c_str()) == 0) note("removed zstate.tmp, left by a write that did not finish");
  auto aside = [&](const std::string& path, const std::string& why) {
    rename(path.c_str(), (path + ".corrupt").c_str());
    note(path + ": " + why + "; moved aside to " + path + ".corrupt");
  };
  auto leftover = [&](const std::string& path, uint64_t lineage) {
    unlink(path.c_str());
    if (lineage > lineage_) note("removed " + path + ", part of a snapshot install that did not finish");
  };

  // Sort the files into the current lineage's, leftovers of another one, and damage.
  next_seq_ = lineage_ + 1;
  std::vector<uint64_t> logs;
  for (const char* prefix : {"zsnap.", "zlog."}) {
    bool snap = prefix[1] == 's';
    for (const auto& [seq, suffix] : List(dir_, prefix)) {
      next_seq_ = std::max(next_seq_, seq + 1);
      std::string path = Path(prefix, seq);
      if (suffix == ".tmp") unlink((path + suffix).c_str());  // a snapshot write that did not finish
      if (!suffix.empty()) continue;
      ReadFile(path, &b, snap ? kSnapHeader : kLogHeader);  // seq, lineage, then zxid or prev
      if (!ReadHeader(b, snap ? "ZSNP" : "ZLOG", 3, f, !snap) || f[0] != seq) {
        aside(path, snap ? "not a snapshot" : "bad log file header");
      } else if (f[1] != lineage_) {
        leftover(path, f[1]);
      } else if (snap) {
        snaps_.push_back(Snap{seq, f[2]});
      } else {
        logs.push_back(seq);
      }
    }
  }

  // The snapshot: the highest zxid that validates.
  std::sort(snaps_.begin(), snaps_.end(), [](const Snap& x, const Snap& y) {
    return std::pair(x.zxid, x.seq) < std::pair(y.zxid, y.seq);
  });
  Zxid base = 0;
  while (!snaps_.empty()) {
    std::string path = Path("zsnap.", snaps_.back().seq);
    ReadFile(path, &b);
    std::string_view data = std::string_view(b).substr(std::min(b.size(), kSnapHeader));
    if (ReadHeader(b, "ZSNP", 4, f, true, data) && f[3] == data.size()) {
      base = snaps_.back().zxid;
      *snapshot_data = b.substr(kSnapHeader);
      break;
    }
    aside(path, "damaged snapshot, using an older one");
    snaps_.pop_back();
  }

  // The log: the lineage's files in order, each continuing the one before.
  for (size_t i = 0; i < logs.size(); ++i) {
    std::string path = Path("zlog.", logs[i]);
    if (int e = ReadFile(path, &b)) return Status::Unavailable(path + ": " + Err(e));
    Segment seg{logs[i], Get64(b, 24), {}};
    if (segs_.empty() && seg.prev > base) {
      return Status::Internal(fmt::format("{}: transaction log gap: the state is at {} but {} starts after {}",
                                          dir_, ZxidHex(base), path, ZxidHex(seg.prev)));
    }
    uint64_t end = 0;
    if (!segs_.empty() && seg.prev != segs_.back().tail()) {
      aside(path, fmt::format("starts after {} but the log before it ends at {}", ZxidHex(seg.prev),
                              ZxidHex(segs_.back().tail())));
    } else if (std::string why = ScanRecords(b, seg.prev, &seg.recs, base, &restored->log, &end); why.empty()) {
      segs_.push_back(std::move(seg));
      continue;
    } else {
      size_t keep = b.size();
      while (keep > end && b[keep - 1] == 0) --keep;  // preallocated zeros carry nothing
      int fd = open((path + ".corrupt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        (void)PwriteAll(fd, std::string_view(b).substr(end, keep - end), 0);
        fsync(fd);
        close(fd);
      }
      fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ftruncate(fd, static_cast<off_t>(end)) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return Status::Unavailable(path + ": cannot cut the damaged tail: " + Err(e));
      }
      close(fd);
      note(fmt::format("{}: {} at offset {}; cut {} bytes (kept in {}.corrupt); the log ends at {}", path, why,
                       end, keep - end, path, ZxidHex(seg.tail())));
      segs_.push_back(std::move(seg));
    }
    for (size_t j = i + 1; j < logs.size(); ++j) aside(Path("zlog.", logs[j]), "follows a damaged log file");
    break;
  }
  FAULTLINE_RETURN_IF_ERROR(SyncDir());

  if (segs_.empty()) {
    uint64_t seq = next_seq_++;
    FAULTLINE_RETURN_IF_ERROR(CreateLog(seq, lineage_, base, &active_));
    segs_.push_back(Segment{seq, base, {}});
  } else {
    FAULTLINE_RETURN_IF_ERROR(OpenActive());
  }
  UpdateLastLogged();
  restored->hard_state = hard_;
  restored->snapshot_zxid = base;
  return Status::Ok();
}

// Opens the last log file for appending after its last record.
Status QuorumStorage::OpenActive() {
  if (active_.fd >= 0) close(active_.fd);
  std::string path = Path("zlog.", segs_.back().seq);
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return Status::Unavailable(path + ": " + Err(errno));
  const auto& recs = segs_.back().recs;
  active_ = Active{fd, recs.empty() ? kLogHeader : recs.back().second, static_cast<uint64_t>(st.st_size)};
  return Status::Ok();
}

void QuorumStorage::UpdateLastLogged() {
  last_logged_ = std::max(segs_.back().tail(), snaps_.empty() ? Zxid{0} : snaps_.back().zxid);
}

Status QuorumStorage::Persist(const zab::Ready& ready) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  Status st;
  if (ready.install_snapshot) {
    st = Install(ready);
  } else {
    if (ready.truncate_after) st = Truncate(*ready.truncate_after);
    if (st.ok()) st = Append(&active_, &segs_.back(), ready.append, snaps_.empty() ? 0 : snaps_.back().zxid);
    if (st.ok() && ready.hard_state && *ready.hard_state != hard_) {
      st = WriteState(lineage_, *ready.hard_state);
      if (st.ok()) hard_ = *ready.hard_state;
    }
  }
  UpdateLastLogged();
  if (!st.ok()) failed_ = st;
  return st;
}

// The new lineage's snapshot and log go to new files; zstate naming the lineage commits them.
Status QuorumStorage::Install(const zab::Ready& ready) {
  const zab::SnapshotData& snap = *ready.install_snapshot;
  if (ready.truncate_after && *ready.truncate_after < snap.zxid) {
    return Status::Internal(dir_ + ": truncate_after below the snapshot installed with it");
  }
  uint64_t lineage = next_seq_++, log_seq = next_seq_++;
  Segment seg{log_seq, snap.zxid, {}};
  Active file;
  zab::HardState hs = ready.hard_state.value_or(hard_);
  bool committed = false;
  Status st = WriteSnap(lineage, lineage, snap.zxid, snap.data);
  if (st.ok()) st = CreateLog(log_seq, lineage, snap.zxid, &file);
  if (st.ok()) st = Append(&file, &seg, ready.append, snap.zxid);
  if (st.ok()) st = AtomicWrite(dir_ + "/zstate", EncodeState(lineage, hs), "", &committed);
  if (!st.ok()) {
    if (file.fd >= 0) close(file.fd);
    if (!committed) {  // the old state stands; once zstate was renamed, either may be current
      unlink(Path("zsnap.", lineage).c_str());
      unlink(Path("zlog.", log_seq).c_str());
    }
    return st;
  }
  close(active_.fd);
  for (const Segment& s : segs_) unlink(Path("zlog.", s.seq).c_str());
  for (const Snap& s : snaps_) unlink(Path("zsnap.", s.seq).c_str());
  (void)SyncDir();  // what survives of the old files is removed by the next Open
  lineage_ = lineage;
  hard_ = hs;
  segs_ = {std::move(seg)};
  snaps_ = {Snap{lineage, snap.zxid}};
  active_ = file;
  return Status::Ok();
}

// Later files go first, then the file holding `after` is cut after it.
Status QuorumStorage::Truncate(Zxid after) {
  if (after >= segs_.back().tail()) return Status::Ok();
  Zxid floor = std::max(segs_.front().prev, snaps_.empty() ? Zxid{0} : snaps_.back().zxid);
  if (after < floor) {
    return Status::Internal(fmt::format("{}: cannot truncate the log to {}: a snapshot covers up to {}", dir_,
                                        ZxidHex(after), ZxidHex(floor)));
  }
  if (segs_.size() > 1 && segs_.back().prev >= after) {
    while (segs_.size() > 1 && segs_.back().prev >= after) {
      std::string path = Path("zlog.", segs_.back().seq);
      if (unlink(path.c_str()) != 0) return Status::Unavailable(path + ": " + Err(errno));
      segs_.pop_back();
    }
    FAULTLINE_RETURN_IF_ERROR(SyncDir());
    FAULTLINE_RETURN_IF_ERROR(OpenActive());
  }
  auto& recs = segs_.back().recs;
  auto cut = std::upper_bound(recs.begin(), recs.end(), after,
                              [](Zxid z, const std::pair<Zxid, uint64_t>& r) { return z < r.first; });
  uint64_t off = cut == recs.begin() ? kLogHeader : std::prev(cut)->second;
  if (ftruncate(active_.fd, static_cast<off_t>(off)) != 0) {
    return Status::Unavailable(fmt::format("{}: truncating the log: {}", dir_, Err(errno)));
  }
  FAULTLINE_RETURN_IF_ERROR(SyncLog(active_.fd));
  recs.erase(cut, recs.end());
  active_.pos = active_.alloc = off;
  return Status::Ok();
}

Status QuorumStorage::Append(Active* file, Segment* seg, const std::vector<zab::Txn>& txns, Zxid floor) {
  if (txns.empty()) return Status::Ok();
  std::string buf;
  std::vector<std::pair<Zxid, uint64_t>> recs;
  Zxid last = std::max(seg->tail(), floor);
  for (const zab::Txn& txn : txns) {
    if (txn.zxid <= last) {
      return Status::Internal(fmt::format("{}: append of {} after {}", dir_, ZxidHex(txn.zxid), ZxidHex(last)));
    }
    if (txn.payload.size() > kMaxRecord - kRecordBody) {
      return Status::Invalid(fmt::format("{}: transaction {} too large", dir_, ZxidHex(txn.zxid)));
    }
    buf += EncodeRecord(txn);
    recs.emplace_back(txn.zxid, file->pos + buf.size());
    last = txn.zxid;
  }
  FAULTLINE_RETURN_IF_ERROR(Reserve(file, file->pos + buf.size()));
  if (int e = PwriteAll(file->fd, buf, file->pos)) {
    return Status::Unavailable(fmt::format("{}: writing the log: {}", dir_, Err(e)));
  }
  FAULTLINE_RETURN_IF_ERROR(SyncLog(file->fd));
  file->pos += buf.size();
  seg->recs.insert(seg->recs.end(), recs.begin(), recs.end());
  return Status::Ok();
}

// Space is reserved by writing zeros (as storage.cc does): a full disk fails here, before a
// record is written, never in the middle of one.
Status QuorumStorage::Reserve(Active* file, uint64_t end) {
  if (end <= file->alloc) return Status::Ok();
  uint64_t want = std::max(end, file->alloc + kReserveChunk), at = file->alloc;
  int err = 0;
  // A megabyte at a time, counting only whole ones.
  while (at < want && err == 0) {
    uint64_t n = std::min<uint64_t>(1 << 20, want - at);
    if (WriteZeros(file->fd, at, n, &err) == n) at += n;
  }
  if (at < end) return Status::Unavailable(fmt::format("{}: cannot reserve space for the log: {}", dir_, Err(err)));
  FAULTLINE_RETURN_IF_ERROR(SyncLog(file->fd));
  file->alloc = at;
  return Status::Ok();
}

Status QuorumStorage::CreateLog(uint64_t seq, uint64_t lineage, Zxid prev, Active* out) {
  std::string path = Path("zlog.", seq);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable(path + ": " + Err(errno));
  std::string head = Header("ZLOG", {seq, lineage, prev});
  Active file{fd, kLogHeader, kLogHeader};
  Status st;
  if (int e = PwriteAll(fd, head, 0)) st = Status::Unavailable(path + ": " + Err(e));
  if (st.ok()) st = Reserve(&file, kLogHeader + 1);
  if (st.ok()) st = SyncDir();
  if (!st.ok()) {
    close(fd);
    unlink(path.c_str());
    return st;
  }
  *out = file;
  return Status::Ok();
}

Status QuorumStorage::WriteState(uint64_t lineage, const zab::HardState& hs) {
  return AtomicWrite(dir_ + "/zstate", EncodeState(lineage, hs), "");
}

Status QuorumStorage::WriteSnap(uint64_t seq, uint64_t lineage, Zxid zxid, std::string_view data) {
  return AtomicWrite(Path("zsnap.", seq), Header("ZSNP", {seq, lineage, zxid, data.size()}, data), data);
}

Status QuorumStorage::AtomicWrite(const std::string& path, std::string_view head, std::string_view body,
                                  bool* renamed) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable(tmp + ": " + Err(errno));
  int e = PwriteAll(fd, head, 0);
  if (e == 0) e = PwriteAll(fd, body, head.size());
  if (e == 0) {
    fsyncs_++;
    if (fsync(fd) != 0) e = errno;
  }
  close(fd);
  if (e == 0) e = rename(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
  if (e != 0) {
    unlink(tmp.c_str());
    return Status::Unavailable(path + ": " + Err(e));
  }
  if (renamed) *renamed = true;
  return SyncDir();
}

Status QuorumStorage::SyncLog(int fd) {
  if (!force_sync_) return Status::Ok();
  fsyncs_++;
  if (fdatasync(fd) == 0) return Status::Ok();
  return Status::Unavailable(fmt::format("{}: fdatasync of the log: {}", dir_, Err(errno)));
}

Status QuorumStorage::SyncDir() {
  int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable(dir_ + ": " + Err(errno));
  int rc = fsync(fd), e = errno;
  fsyncs_++;
  close(fd);
  return rc == 0 ? Status::Ok() : Status::Unavailable(dir_ + ": fsync: " + Err(e));
}

Status QuorumStorage::SaveSnapshot(Zxid zxid, std::string_view data, int retain) {
  uint64_t seq, lineage;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.ok()) return failed_;
    if (zxid > last_logged_ || (!snaps_.empty() && zxid < snaps_.back().zxid)) {
      return Status::Invalid(fmt::format("{}: snapshot at {} outside the log ({} to {})", dir_, ZxidHex(zxid),
                                         ZxidHex(snaps_.empty() ? 0 : snaps_.back().zxid), ZxidHex(last_logged_)));
    }
    seq = next_seq_++;
    lineage = lineage_;
  }
  FAULTLINE_RETURN_IF_ERROR(WriteSnap(seq, lineage, zxid, data));  // unlocked: Persist goes on meanwhile
  std::lock_guard<std::mutex> lock(mu_);
  if (lineage != lineage_) {
    unlink(Path("zsnap.", seq).c_str());
    return Status::Cancelled(dir_ + ": snapshot superseded by one installed from the leader");
  }
  auto at = std::upper_bound(snaps_.begin(), snaps_.end(), zxid, [](Zxid z, const Snap& s) { return z < s.zxid; });
  snaps_.insert(at, Snap{seq, zxid});
  if (!failed_.ok()) return failed_;
  // Roll, so that the entries the snapshot covers sit in files that can go.
  if (!segs_.back().recs.empty()) {
    Active file;
    Segment seg{next_seq_++, segs_.back().tail(), {}};
    FAULTLINE_RETURN_IF_ERROR(CreateLog(seg.seq, lineage_, seg.prev, &file));  // else the log goes on
    close(active_.fd);
    active_ = file;
    segs_.push_back(std::move(seg));
  }
  while (snaps_.size() > static_cast<size_t>(std::max(retain, 1))) {
    unlink(Path("zsnap.", snaps_.front().seq).c_str());
    snaps_.erase(snaps_.begin());
  }
  while (segs_.size() > 1 && segs_.front().tail() <= snaps_.front().zxid) {
    unlink(Path("zlog.", segs_.front().seq).c_str());
    segs_.erase(segs_.begin());
  }
  return SyncDir();
}

}  // namespace faultline::coord

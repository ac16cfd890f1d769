#include "coord/storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "coord/jute.h"
#include "coord/records.h"
#include "coord/wire.h"

namespace faultline::coord {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/flq-storage-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Txn CreateTxn(int64_t zxid, const std::string& path) {
  std::string body;
  JuteWriter w(&body);
  WriteCreate(w, CreateRequest{path, "data", {Acl{perm::kAll, "world", "anyone"}}, 0, 0}, false);
  return Txn{zxid, 0x11, 1000 + zxid, op::kCreate, body};
}

std::string LogBytes(const std::vector<Txn>& txns) {
  std::string out = "QLOG";
  out += std::string("\0\0\0\1", 4);
  out.append(8, '\0');
  for (const auto& t : txns) out += EncodeLogRecord(t);
  out.append(4096, '\0');  // preallocated tail
  return out;
}

TEST(Crc32c, KnownVector) {
  // The CRC-32C check value from RFC 3720.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
}

TEST(ScanLog, ReadsRecordsUpToThePreallocatedZeros) {
  std::string bytes = LogBytes({CreateTxn(1, "/a"), CreateTxn(2, "/b"), CreateTxn(3, "/c")});
  std::vector<int64_t> seen;
  LogScan scan = ScanLog(bytes, 1, [&](const Txn& t) { seen.push_back(t.zxid); });
  EXPECT_FALSE(scan.corrupt) << scan.reason;
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3}));
}

TEST(ScanLog, StopsAtATornTail) {
  std::string good = LogBytes({CreateTxn(1, "/a"), CreateTxn(2, "/b")});
  std::string rec = EncodeLogRecord(CreateTxn(3, "/c"));
  size_t end_of_good = good.size() - 4096;
  std::string bytes = good.substr(0, end_of_good) + rec.substr(0, rec.size() / 2) + std::string(4096, '\0');
  size_t n = 0;
  LogScan scan = ScanLog(bytes, 1, [&](const Txn&) { ++n; });
  EXPECT_TRUE(scan.corrupt);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(scan.valid_end, end_of_good);
}

TEST(ScanLog, DetectsAFlippedByteAndAZxidGap) {
  std::string bytes = LogBytes({CreateTxn(1, "/a"), CreateTxn(2, "/b"), CreateTxn(3, "/c")});
  std::string flipped = bytes;
  flipped[16 + 20] ^= 0x01;  // inside the first record's payload
  size_t n = 0;
  LogScan scan = ScanLog(flipped, 1, [&](const Txn&) { ++n; });
  EXPECT_TRUE(scan.corrupt);
  EXPECT_EQ(scan.reason, "checksum mismatch");
  EXPECT_EQ(n, 0u);
  std::string gap = LogBytes({CreateTxn(1, "/a"), CreateTxn(3, "/c")});
  scan = ScanLog(gap, 1, [&](const Txn&) { ++n; });
  EXPECT_TRUE(scan.corrupt);
  EXPECT_EQ(n, 1u);
}

TEST(ScanLog, RefusesAHugeLengthWithoutAllocating) {
  std::string bytes = LogBytes({});
  bytes[16] = 1;  // some crc
  bytes[20] = 0x7f;  // length 0x7f000000
  LogScan scan = ScanLog(bytes, 0, [](const Txn&) {});
  EXPECT_TRUE(scan.corrupt);
}

TEST(TxnLogWriter, RecoveryReplaysWhatWasMadeDurable) {
  TempDir dir;
  {
    TxnLogWriter log(dir.path(), 64 * 1024, true);
    ASSERT_TRUE(log.Open(1).ok());
    for (int i = 1; i <= 100; ++i) ASSERT_TRUE(log.Append(CreateTxn(i, "/n" + std::to_string(i))).ok());
    ASSERT_TRUE(log.Flush().ok());
    ASSERT_TRUE(log.Roll(101).ok());
    for (int i = 101; i <= 150; ++i) ASSERT_TRUE(log.Append(CreateTxn(i, "/n" + std::to_string(i))).ok());
    ASSERT_TRUE(log.Flush().ok());
    for (int i = 0; i < 500 && log.durable_zxid() < 150; ++i) usleep(2000);
    EXPECT_EQ(log.durable_zxid(), 150);
    EXPECT_GE(log.fsync_count(), 1);
  }
  DataTree tree;
  RecoveryResult result;
  ASSERT_TRUE(Recover(dir.path(), &tree, &result).ok());
  EXPECT_EQ(result.last_zxid, 150);
  EXPECT_EQ(result.replayed, 150);
  EXPECT_FALSE(result.log_cut);
  EXPECT_NE(tree.Find("/n150"), nullptr);
}

TEST(Snapshots, NewestValidSnapshotThenTheLogAfterIt) {
  TempDir dir;
  DataTree tree;
  for (int i = 1; i <= 10; ++i) tree.Apply(CreateTxn(i, "/s" + std::to_string(i)));
  ASSERT_TRUE(WriteSnapshot(dir.path(), 10, tree.Serialize()).ok());
  {
    TxnLogWriter log(dir.path(), 4096, true);
    ASSERT_TRUE(log.Open(1).ok());
    for (int i = 1; i <= 12; ++i) ASSERT_TRUE(log.Append(CreateTxn(i, "/s" + std::to_string(i))).ok());
    ASSERT_TRUE(log.Flush().ok());
  }
  // A newer snapshot that is damaged must be skipped for the older good one.
  std::ofstream(dir.path() + "/snapshot.b") << "QSNF garbage";
  DataTree back;
  RecoveryResult result;
  ASSERT_TRUE(Recover(dir.path(), &back, &result).ok());
  EXPECT_EQ(result.snapshot_zxid, 10);
  EXPECT_EQ(result.replayed, 2);
  EXPECT_EQ(back.last_zxid(), 12);
  EXPECT_NE(back.Find("/s12"), nullptr);
}

TEST(Snapshots, WrittenInPiecesFromTheTree) {
  TempDir dir;
  DataTree tree;
  for (int i = 1; i <= 300; ++i) tree.Apply(CreateTxn(i, "/p" + std::to_string(i)));
  {
    SnapshotWriter file(dir.path(), 300);
    ASSERT_TRUE(file.Open().ok());
    ASSERT_TRUE(tree.SerializeTo(1000, [&](std::string_view piece) { return file.Write(piece).ok(); }));
    EXPECT_TRUE(fs::exists(dir.path() + "/snapshot.12c.tmp"));
    EXPECT_FALSE(fs::exists(dir.path() + "/snapshot.12c"));
    ASSERT_TRUE(file.Commit().ok());
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/snapshot.12c.tmp"));
  // Byte for byte what WriteSnapshot makes of the whole payload.
  TempDir whole;
  ASSERT_TRUE(WriteSnapshot(whole.path(), 300, tree.Serialize()).ok());
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir.path() + "/snapshot.12c"), read(whole.path() + "/snapshot.12c"));
  DataTree back;
  RecoveryResult result;
  ASSERT_TRUE(Recover(dir.path(), &back, &result).ok());
  EXPECT_EQ(result.snapshot_zxid, 300);
  EXPECT_EQ(back.node_count(), tree.node_count());
  EXPECT_NE(back.Find("/p300"), nullptr);
  // A writer given up on leaves nothing behind.
  {
    SnapshotWriter file(dir.path(), 400);
    ASSERT_TRUE(file.Open().ok());
    ASSERT_TRUE(file.Write("partial").ok());
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/snapshot.190.tmp"));
  EXPECT_FALSE(fs::exists(dir.path() + "/snapshot.190"));
}

TEST(Snapshots, PurgeKeepsWhatRecoveryNeeds) {
  TempDir dir;
  DataTree tree;
  for (int64_t z : {0, 100, 200, 300, 400}) ASSERT_TRUE(WriteSnapshot(dir.path(), z, tree.Serialize()).ok());
  for (int64_t z : {1, 150, 250, 350}) std::ofstream(dir.path() + "/log." + fmt::format("{:x}", z)) << "x";
  PurgeOldFiles(dir.path(), 3);
  auto snaps = ListZxidFiles(dir.path(), "snapshot.");
  auto logs = ListZxidFiles(dir.path(), "log.");
  ASSERT_EQ(snaps.size(), 3u);
  EXPECT_EQ(snaps.front().first, 200);
  // log.150 holds zxids 201..249 and must stay; log.1 goes.
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs.front().first, 150);
}

}  // namespace
}  // namespace faultline::coord

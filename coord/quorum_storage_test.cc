#include "coord/quorum_storage.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace faultline::coord {
namespace {

namespace fs = std::filesystem;
using zab::MakeZxid;
using zab::Txn;
using zab::Zxid;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/flq-quorum-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string path(const std::string& sub = "version-2") const { return root_ + "/" + sub; }

 private:
  std::string root_;
};

Txn T(uint32_t epoch, uint32_t counter, std::string payload = "") {
  if (payload.empty()) payload = "payload-" + std::to_string(epoch) + "-" + std::to_string(counter);
  return Txn{MakeZxid(epoch, counter), zab::TxnKind::kClient, 0x42, payload};
}

zab::Ready Append(std::vector<Txn> txns) {
  zab::Ready r;
  r.append = std::move(txns);
  r.persist_id = 1;
  return r;
}

std::vector<Zxid> Zxids(const std::vector<Txn>& log) {
  std::vector<Zxid> out;
  for (const Txn& t : log) out.push_back(t.zxid);
  return out;
}

struct Recovered {
  std::unique_ptr<QuorumStorage> store;
  zab::DurableState state;
  std::string snapshot;
  std::vector<std::string> warnings;
};

Recovered OpenOk(const std::string& dir) {
  Recovered r;
  Status st = QuorumStorage::Open(dir, true, &r.store, &r.state, &r.snapshot, &r.warnings);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return r;
}

std::vector<std::string> FilesLike(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The one log file in dir holding needle, and needle's offset in it.
std::pair<std::string, size_t> Find(const std::string& dir, const std::string& needle) {
  for (const std::string& name : FilesLike(dir, "zlog.")) {
    size_t at = Slurp(dir + "/" + name).find(needle);
    if (at != std::string::npos) return {dir + "/" + name, at};
  }
  ADD_FAILURE() << needle << " not found";
  return {"", 0};
}

TEST(QuorumStorage, AppendsAndRecoversWithTheHardState) {
  TempDir tmp;
  zab::HardState hs{2, 3, 1};
  Txn close{MakeZxid(1, 3), zab::TxnKind::kCloseSession, 0x99, ""};
  {
    Recovered r = OpenOk(tmp.path());
    EXPECT_EQ(r.state.log.size(), 0u);
    EXPECT_EQ(r.state.hard_state, zab::HardState{});
    zab::Ready rd = Append({T(1, 1), T(1, 2)});
    rd.hard_state = hs;
    int64_t before = r.store->fsync_count();
    ASSERT_TRUE(r.store->Persist(rd).ok());
    EXPECT_GT(r.store->fsync_count(), before);
    ASSERT_TRUE(r.store->Persist(Append({close})).ok());
    EXPECT_EQ(r.store->last_logged(), MakeZxid(1, 3));
  }
  {
    Recovered r = OpenOk(tmp.path());
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.state.hard_state, hs);
    EXPECT_EQ(r.state.snapshot_zxid, 0u);
    EXPECT_TRUE(r.snapshot.empty());
    EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1), T(1, 2), close}));
    ASSERT_TRUE(r.store->Persist(Append({T(1, 4)})).ok());  // the log goes on after a restart
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_EQ(Zxids(r.state.log), (std::vector<Zxid>{MakeZxid(1, 1), MakeZxid(1, 2), MakeZxid(1, 3), MakeZxid(1, 4)}));
  EXPECT_EQ(r.store->last_logged(), MakeZxid(1, 4));
}

TEST(QuorumStorage, TruncatesThenAppendsDifferentEntries) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1), T(1, 2), T(1, 3), T(1, 4), T(1, 5)})).ok());
    zab::Ready rd = Append({T(2, 1), T(2, 2)});
    rd.truncate_after = MakeZxid(1, 3);
    ASSERT_TRUE(r.store->Persist(rd).ok());
    EXPECT_EQ(r.store->last_logged(), MakeZxid(2, 2));
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1), T(1, 2), T(1, 3), T(2, 1), T(2, 2)}));
}

TEST(QuorumStorage, TruncatesAcrossLogFiles) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1), T(1, 2), T(1, 3), T(1, 4)})).ok());
    ASSERT_TRUE(r.store->SaveSnapshot(MakeZxid(1, 2), "at-2").ok());  // rolls to a second file
    ASSERT_TRUE(r.store->Persist(Append({T(1, 5), T(1, 6)})).ok());
    EXPECT_EQ(FilesLike(tmp.path(), "zlog.").size(), 2u);
    zab::Ready rd = Append({T(2, 1)});
    rd.truncate_after = MakeZxid(1, 3);
    ASSERT_TRUE(r.store->Persist(rd).ok());
    EXPECT_EQ(FilesLike(tmp.path(), "zlog.").size(), 1u);
    rd = zab::Ready{};
    rd.truncate_after = MakeZxid(1, 1);  // below the snapshot: refused, and the node stops
    EXPECT_FALSE(r.store->Persist(rd).ok());
    EXPECT_FALSE(r.store->Persist(Append({T(2, 2)})).ok());
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.state.snapshot_zxid, MakeZxid(1, 2));
  EXPECT_EQ(r.snapshot, "at-2");
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 3), T(2, 1)}));
}

TEST(QuorumStorage, InstallsASnapshotWithItsLogAndHardState) {
  TempDir tmp;
  zab::HardState hs{3, 5, 3};
  {
    Recovered r = OpenOk(tmp.path());
    zab::Ready rd = Append({T(1, 1), T(1, 2), T(1, 3)});
    rd.hard_state = zab::HardState{1, 1, 1};
    ASSERT_TRUE(r.store->Persist(rd).ok());
    ASSERT_TRUE(r.store->SaveSnapshot(MakeZxid(1, 3), "local").ok());
    // The leader's snapshot replaces state and log, even though its zxid is lower.
    rd = Append({T(3, 1), T(3, 2)});
    rd.install_snapshot = zab::SnapshotData{MakeZxid(1, 2), "leader"};
    rd.hard_state = hs;
    ASSERT_TRUE(r.store->Persist(rd).ok());
    EXPECT_EQ(r.store->last_logged(), MakeZxid(3, 2));
    ASSERT_TRUE(r.store->Persist(Append({T(3, 3)})).ok());
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.state.hard_state, hs);
  EXPECT_EQ(r.state.snapshot_zxid, MakeZxid(1, 2));
  EXPECT_EQ(r.snapshot, "leader");
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(3, 1), T(3, 2), T(3, 3)}));
  EXPECT_EQ(FilesLike(tmp.path(), "zsnap.").size(), 1u);  // the old lineage's files are gone
  EXPECT_EQ(FilesLike(tmp.path(), "zlog.").size(), 1u);
}

TEST(QuorumStorage, SaveSnapshotKeepsOnlyLaterEntriesAndPurges) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1), T(1, 2), T(1, 3), T(1, 4), T(1, 5)})).ok());
    EXPECT_FALSE(r.store->SaveSnapshot(MakeZxid(1, 6), "ahead of the log").ok());
    ASSERT_TRUE(r.store->SaveSnapshot(MakeZxid(1, 3), "three").ok());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 6), T(1, 7)})).ok());
  }
  {
    Recovered r = OpenOk(tmp.path());
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.state.snapshot_zxid, MakeZxid(1, 3));
    EXPECT_EQ(r.snapshot, "three");
    EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 4), T(1, 5), T(1, 6), T(1, 7)}));
    ASSERT_TRUE(r.store->SaveSnapshot(MakeZxid(1, 6), "six", 2).ok());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 8)})).ok());
    ASSERT_TRUE(r.store->SaveSnapshot(MakeZxid(1, 8), "eight", 2).ok());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 9)})).ok());
    // Kept: the snapshots at 6 and 8, the file holding 7 (the one after 6) and those after it.
    EXPECT_EQ(FilesLike(tmp.path(), "zsnap.").size(), 2u);
    EXPECT_EQ(FilesLike(tmp.path(), "zlog.").size(), 3u);
  }
  {
    Recovered r = OpenOk(tmp.path());
    EXPECT_EQ(r.snapshot, "eight");
    EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 9)}));
  }
  // A damaged newest snapshot: the older one and the log it needs take over.
  std::vector<std::string> snaps = FilesLike(tmp.path(), "zsnap.");
  std::string newest = tmp.path() + "/" + snaps.back();
  std::string bytes = Slurp(newest);
  bytes.back() ^= 0x20;
  std::ofstream(newest, std::ios::binary | std::ios::trunc) << bytes;
  Recovered r = OpenOk(tmp.path());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("damaged snapshot"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.snapshot, "six");
  EXPECT_EQ(Zxids(r.state.log), (std::vector<Zxid>{MakeZxid(1, 7), MakeZxid(1, 8), MakeZxid(1, 9)}));
}

TEST(QuorumStorage, CutsATornTail) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1), T(1, 2)})).ok());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 3)})).ok());
  }
  auto [log, at] = Find(tmp.path(), "payload-1-3");
  fs::resize_file(log, at + 4);  // the last record's write stopped in its middle
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find(log), std::string::npos) << r.warnings[0];
    EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1), T(1, 2)}));
    EXPECT_TRUE(fs::exists(log + ".corrupt"));
    EXPECT_EQ(r.store->last_logged(), MakeZxid(1, 2));
    ASSERT_TRUE(r.store->Persist(Append({T(1, 3, "again")})).ok());
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1), T(1, 2), T(1, 3, "again")}));
}

TEST(QuorumStorage, CutsAtAFlippedByte) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1), T(1, 2), T(1, 3)})).ok());
  }
  auto [log, at] = Find(tmp.path(), "payload-1-2");
  std::string bytes = Slurp(log);
  bytes[at + 3] ^= 0x01;
  std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes;
  Recovered r = OpenOk(tmp.path());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("checksum mismatch"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1)}));
  EXPECT_NE(Slurp(log + ".corrupt").find("payload-1-3"), std::string::npos);
}

// A crash during an install leaves the new lineage's files and zstate.tmp; one after its commit
// leaves the old lineage's files. Both are made here by copying files between two directories.
TEST(QuorumStorage, InstallIsAtomicAcrossACrash) {
  TempDir tmp;
  std::string old_dir = tmp.path("old"), new_dir = tmp.path("new");
  zab::HardState old_hs{1, 1, 1};
  {
    Recovered r = OpenOk(old_dir);
    zab::Ready rd = Append({T(1, 1), T(1, 2)});
    rd.hard_state = old_hs;
    ASSERT_TRUE(r.store->Persist(rd).ok());
  }
  fs::copy(old_dir, new_dir);
  {
    Recovered r = OpenOk(new_dir);
    zab::Ready rd = Append({T(2, 1)});
    rd.install_snapshot = zab::SnapshotData{MakeZxid(1, 9), "leader"};
    rd.hard_state = zab::HardState{2, 2, 2};
    ASSERT_TRUE(r.store->Persist(rd).ok());
  }
  std::string crashed = tmp.path("crashed"), committed = tmp.path("committed");
  fs::copy(old_dir, crashed);
  fs::copy(new_dir, committed);
  for (const auto& e : fs::directory_iterator(new_dir)) {
    std::string name = e.path().filename().string();
    if (name == "zstate") {
      fs::copy_file(e.path(), crashed + "/zstate.tmp");  // written and synced, never renamed
    } else if (!fs::exists(crashed + "/" + name)) {
      fs::copy_file(e.path(), crashed + "/" + name);
    }
  }
  for (const auto& e : fs::directory_iterator(old_dir)) {
    if (e.path().filename() != "zstate") fs::copy_file(e.path(), committed / e.path().filename());
  }
  {
    Recovered r = OpenOk(crashed);
    EXPECT_FALSE(r.warnings.empty());
    EXPECT_EQ(r.state.hard_state, old_hs);
    EXPECT_EQ(r.state.snapshot_zxid, 0u);
    EXPECT_TRUE(r.snapshot.empty());
    EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1), T(1, 2)}));
    EXPECT_TRUE(FilesLike(crashed, "zsnap.").empty());
    EXPECT_FALSE(fs::exists(crashed + "/zstate.tmp"));
    ASSERT_TRUE(r.store->Persist(Append({T(1, 3)})).ok());
  }
  Recovered again = OpenOk(crashed);
  EXPECT_TRUE(again.warnings.empty());
  EXPECT_EQ(again.state.log, (std::vector<Txn>{T(1, 1), T(1, 2), T(1, 3)}));

  Recovered r = OpenOk(committed);
  EXPECT_EQ(r.state.hard_state, (zab::HardState{2, 2, 2}));
  EXPECT_EQ(r.snapshot, "leader");
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(2, 1)}));
  EXPECT_EQ(FilesLike(committed, "zlog.").size(), 1u);
}

// No full disk without root; a file size limit fails the same writes (EFBIG for ENOSPC).
TEST(QuorumStorage, AWriteThatCannotReserveSpaceFailsAndKeepsTheLog) {
  TempDir tmp;
  {
    Recovered r = OpenOk(tmp.path());
    ASSERT_TRUE(r.store->Persist(Append({T(1, 1)})).ok());
    struct rlimit old_limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    struct rlimit limit = old_limit;
    limit.rlim_cur = 6u << 20;
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &limit);
    Status st = r.store->Persist(Append({T(1, 2, std::string(5u << 20, 'x'))}));
    setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(tmp.path()), std::string::npos) << st.ToString();
    EXPECT_FALSE(r.store->Persist(Append({T(1, 3)})).ok());  // a failed store stays failed
  }
  Recovered r = OpenOk(tmp.path());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.state.log, (std::vector<Txn>{T(1, 1)}));
}

}  // namespace
}  // namespace faultline::coord

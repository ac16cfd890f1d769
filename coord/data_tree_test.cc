#include "coord/data_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "coord/jute.h"
#include "coord/wire.h"

namespace faultline::coord {
namespace {

const std::vector<Acl> kOpen = {Acl{perm::kAll, "world", "anyone"}};

class TreeTest : public ::testing::Test {
 protected:
  ApplyResult Run(int32_t type, const std::string& body, int64_t session = 0x10) {
    Txn txn{++zxid_, session, 1000 + zxid_, type, body};
    return tree_.Apply(txn);
  }
  ApplyResult Create(const std::string& path, int32_t flags = 0, int64_t session = 0x10,
                     int32_t type = op::kCreate) {
    std::string body;
    JuteWriter w(&body);
    WriteCreate(w, CreateRequest{path, "d", kOpen, flags, 0}, false);
    return Run(type, body, session);
  }
  ApplyResult Delete(const std::string& path, int32_t version = -1) {
    std::string body;
    JuteWriter w(&body);
    WritePathVersion(w, PathVersion{path, version});
    return Run(op::kDelete, body);
  }
  static std::string Str(const std::string& reply) {
    JuteReader r(reply);
    return r.String();
  }
  DataTree tree_;
  int64_t zxid_ = 0;
};

TEST_F(TreeTest, StartsWithZooKeeperSubtree) {
  ASSERT_NE(tree_.Find("/zookeeper/quota"), nullptr);
  EXPECT_EQ(tree_.Find("/")->stat().num_children, 1);
}

TEST_F(TreeTest, CreateSetsStatAndParent) {
  ApplyResult r = Create("/a");
  ASSERT_EQ(r.err, err::kOk);
  EXPECT_EQ(Str(r.response), "/a");
  const Node* a = tree_.Find("/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->stat().czxid, 1);
  EXPECT_EQ(a->stat().mzxid, 1);
  EXPECT_EQ(a->stat().pzxid, 1);
  EXPECT_EQ(a->stat().ctime, 1001);
  EXPECT_EQ(a->stat().data_length, 1);
  const Node* root = tree_.Find("/");
  EXPECT_EQ(VisibleStat(*root).cversion, 0);  // 2 creates counted, 2 children
  EXPECT_EQ(root->stat().pzxid, 1);
  EXPECT_EQ(root->stat().num_children, 2);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].type, event::kNodeCreated);
  EXPECT_EQ(r.events[1].type, event::kNodeChildrenChanged);
  EXPECT_EQ(r.events[1].path, "/");
  EXPECT_EQ(Create("/a").err, err::kNodeExists);
  EXPECT_EQ(Create("/x/y").err, err::kNoNode);
  EXPECT_EQ(Create("bad").err, err::kBadArguments);
  EXPECT_EQ(Create("/a/").err, err::kBadArguments);
}

TEST_F(TreeTest, SequentialSuffixFollowsParentCversion) {
  Create("/q");
  Create("/q/other");
  Create("/q/gone");
  Delete("/q/gone");  // deletes do not advance the counter, as in ZooKeeper
  ApplyResult r = Create("/q/n-", create_mode::kPersistentSequential);
  ASSERT_EQ(r.err, err::kOk);
  EXPECT_EQ(Str(r.response), "/q/n-0000000002");
  EXPECT_EQ(Str(Create("/q/", create_mode::kPersistentSequential).response), "/q/0000000003");
  EXPECT_EQ(VisibleStat(*tree_.Find("/q")).cversion, 2 * 4 - 3);
}

TEST_F(TreeTest, DeleteChecksVersionAndChildren) {
  Create("/p");
  Create("/p/c");
  EXPECT_EQ(Delete("/p").err, err::kNotEmpty);
  EXPECT_EQ(Delete("/p/c", 3).err, err::kBadVersion);
  EXPECT_EQ(Delete("/p/c", 0).err, err::kOk);
  EXPECT_EQ(Delete("/p/c").err, err::kNoNode);
  EXPECT_EQ(VisibleStat(*tree_.Find("/p")).cversion, 2);
}

TEST_F(TreeTest, EphemeralsGoWithTheirSession) {
  Run(op::kCreateSession, std::string("\0\0\x75\x30", 4), 0x77);
  EXPECT_EQ(tree_.sessions().at(0x77), 30000);
  Create("/e", create_mode::kEphemeral, 0x77);
  EXPECT_EQ(Create("/e/child", 0, 0x77).err, err::kNoChildrenForEphemerals);
  EXPECT_EQ(tree_.Find("/e")->stat().ephemeral_owner, 0x77);
  ApplyResult r = Run(op::kCloseSession, "", 0x77);
  EXPECT_EQ(tree_.Find("/e"), nullptr);
  EXPECT_EQ(tree_.sessions().count(0x77), 0u);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events[0].type, event::kNodeDeleted);
}

TEST_F(TreeTest, FailedMultiChangesNothing) {
  Create("/m");
  std::vector<MultiOp> ops(3);
  ops[0].type = op::kCreate;
  ops[0].create = CreateRequest{"/m/a", "", kOpen, 0, 0};
  ops[1].type = op::kSetData;
  ops[1].set_data = SetDataRequest{"/m", "new", -1};
  ops[2].type = op::kCheck;
  ops[2].path_version = PathVersion{"/m", 7};
  std::string body;
  JuteWriter w(&body);
  WriteMulti(w, ops);
  Stat before = tree_.Find("/m")->stat();
  ApplyResult r = Run(op::kMulti, body);
  EXPECT_EQ(r.err, err::kOk);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(tree_.Find("/m/a"), nullptr);
  EXPECT_EQ(tree_.Find("/m")->data(), "d");
  EXPECT_EQ(tree_.Find("/m")->stat().cversion, before.cversion);
  EXPECT_EQ(tree_.Find("/m")->stat().num_children, 0);
  JuteReader rr(r.response);
  int32_t codes[3];
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rr.Int(), op::kError);
    rr.Bool();
    codes[i] = rr.Int();
    rr.Int();
  }
  EXPECT_EQ(codes[0], err::kOk);
  EXPECT_EQ(codes[1], err::kOk);
  EXPECT_EQ(codes[2], err::kBadVersion);
}

TEST_F(TreeTest, SnapshotRoundTrip) {
  Run(op::kCreateSession, std::string("\0\0\x75\x30", 4), 0x77);
  Create("/s");
  Create("/s/e", create_mode::kEphemeral, 0x77);
  std::string snap = tree_.Serialize();
  DataTree other;
  ASSERT_TRUE(other.Deserialize(snap));
  EXPECT_EQ(other.last_zxid(), tree_.last_zxid());
  EXPECT_EQ(other.node_count(), tree_.node_count());
  EXPECT_EQ(other.Find("/s")->stat().num_children, 1);
  EXPECT_EQ(other.Find("/s/e")->stat().ephemeral_owner, 0x77);
  EXPECT_EQ(other.ephemeral_count(), 1u);
  EXPECT_EQ(other.sessions().at(0x77), 30000);
  snap[snap.size() / 2] ^= 0x40;
  snap.resize(snap.size() - 3);
  EXPECT_FALSE(other.Deserialize(snap));
}

TEST_F(TreeTest, ManyChildrenComeAndGo) {
  Create("/f");
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) names.push_back("c" + std::to_string(i * 7919 % 3001));
  for (const auto& n : names) ASSERT_EQ(Create("/f/" + n).err, err::kOk);
  EXPECT_EQ(tree_.Find("/f")->child_count(), names.size());
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string_view> listed = tree_.Find("/f")->children();
  ASSERT_EQ(listed.size(), sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(listed[i], sorted[i]);
  // Deleting most of them shrinks the table; every survivor must still be found.
  for (size_t i = 0; i < names.size(); ++i) {
    if (i % 10 != 0) {
      ASSERT_EQ(Delete("/f/" + names[i]).err, err::kOk);
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(tree_.Find("/f/" + names[i]) != nullptr, i % 10 == 0) << names[i];
  }
  EXPECT_EQ(tree_.Find("/f")->stat().num_children, 300);
  EXPECT_EQ(VisibleStat(*tree_.Find("/f")).cversion, 2 * 3000 - 300);
}

TEST_F(TreeTest, ANodeThatGrowsKeepsItsChildren) {
  Create("/g");
  Create("/g/a");
  Create("/g/a/x");
  for (size_t size : {0, 5000, 1, 200, 200}) {
    std::string body;
    JuteWriter w(&body);
    WriteSetData(w, SetDataRequest{"/g/a", std::string(size, 'z'), -1});
    ASSERT_EQ(Run(op::kSetData, body).err, err::kOk);
    EXPECT_EQ(tree_.Find("/g/a")->data().size(), size);
    EXPECT_NE(tree_.Find("/g/a/x"), nullptr);
    ASSERT_EQ(tree_.Find("/g")->children().size(), 1u);
  }
  EXPECT_EQ(tree_.Find("/g/a")->stat().version, 5);
  EXPECT_EQ(tree_.Find("/g/a")->stat().data_length, 200);
  EXPECT_EQ(tree_.Find("/g/"), nullptr);
  EXPECT_EQ(tree_.Find("/g//a"), nullptr);
  EXPECT_EQ(tree_.Find("g/a"), nullptr);
}

TEST_F(TreeTest, ApproximateDataSizeFollowsEveryChange) {
  int64_t base = tree_.approximate_data_size();
  Create("/s");  // 2 + 1
  Create("/s/t");  // 4 + 1
  EXPECT_EQ(tree_.approximate_data_size(), base + 8);
  std::string body;
  JuteWriter w(&body);
  WriteSetData(w, SetDataRequest{"/s/t", "four", -1});
  Run(op::kSetData, body);
  EXPECT_EQ(tree_.approximate_data_size(), base + 11);
  std::vector<MultiOp> ops(3);
  ops[0].type = op::kDelete;
  ops[0].path_version = PathVersion{"/s/t", -1};
  ops[1].type = op::kCreate;
  ops[1].create = CreateRequest{"/s/u", "longer data", kOpen, 0, 0};
  ops[2].type = op::kCheck;
  ops[2].path_version = PathVersion{"/s", 9};
  std::string multi;
  JuteWriter mw(&multi);
  WriteMulti(mw, ops);
  Run(op::kMulti, multi);
  EXPECT_EQ(tree_.approximate_data_size(), base + 11);
  EXPECT_EQ(tree_.Find("/s/t")->data(), "four");
  Delete("/s/t");
  EXPECT_EQ(tree_.approximate_data_size(), base + 3);
}

TEST_F(TreeTest, UnusualStatValuesRoundTrip) {
  Txn txn{int64_t{0x7fffffff} << 32, -5, -1234567, op::kCreateSession, std::string("\0\0\0\1", 4)};
  tree_.Apply(txn);
  std::string body;
  JuteWriter w(&body);
  WriteCreate(w, CreateRequest{"/odd", "", kOpen, create_mode::kEphemeral, 0}, false);
  txn = Txn{(int64_t{0x7fffffff} << 32) + 1, -5, -1234567, op::kCreate, body};
  ASSERT_EQ(tree_.Apply(txn).err, err::kOk);
  body.clear();
  WriteSetData(w, SetDataRequest{"/odd", "v", -1});
  txn = Txn{3, -5, INT64_MAX, op::kSetData, body};  // an older zxid, a later time
  ASSERT_EQ(tree_.Apply(txn).err, err::kOk);
  DataTree other;
  ASSERT_TRUE(other.Deserialize(tree_.Serialize()));
  for (const DataTree* t : {&tree_, &other}) {
    Stat s = t->Find("/odd")->stat();
    EXPECT_EQ(s.czxid, (int64_t{0x7fffffff} << 32) + 1);
    EXPECT_EQ(s.mzxid, 3);
    EXPECT_EQ(s.ctime, -1234567);
    EXPECT_EQ(s.mtime, INT64_MAX);
    EXPECT_EQ(s.ephemeral_owner, -5);
    EXPECT_EQ(s.version, 1);
  }
}

// Snapshots written before the tree listed parents first had their nodes in hash order.
TEST_F(TreeTest, LoadsASnapshotWithChildrenBeforeParents) {
  auto snapshot = [](const std::vector<std::string>& paths) {
    std::string snap;
    JuteWriter w(&snap);
    w.Raw("QSNP");
    w.Int(2);
    w.Long(40);
    w.Int(0);  // sessions
    w.Int(1);  // acls
    WriteAcls(w, kOpen);
    w.Int(static_cast<int32_t>(paths.size()));
    for (const auto& p : paths) {
      w.String(p);
      w.Buffer(p.substr(1));
      w.Int(0);
      Stat s;
      s.czxid = 7;
      s.data_length = static_cast<int32_t>(p.size() - 1);
      WriteStat(w, s);
    }
    return snap;
  };
  std::string snap = snapshot({"/a/b/c", "/zookeeper/quota", "/a/b", "/", "/zookeeper", "/a"});
  DataTree other;
  ASSERT_TRUE(other.Deserialize(snap));
  EXPECT_EQ(other.node_count(), 6u);
  EXPECT_EQ(other.Find("/a/b/c")->data(), "a/b/c");
  EXPECT_EQ(other.Find("/a")->stat().num_children, 1);
  EXPECT_EQ(other.Find("/")->children().size(), 2u);
  // Written again, parents come first and it reads back the same. Siblings come in the
  // order of their parent's table, which differs from tree to tree, so the bytes are
  // compared node by node, not as a whole.
  std::string again = other.Serialize();
  EXPECT_EQ(again.size(), snap.size());
  EXPECT_EQ(again.size(), other.SerializedSize());
  auto at = [&](const std::string& path) {
    std::string mark = std::string("\0\0\0", 3) + static_cast<char>(path.size()) + path + "\0";
    return again.find(mark);
  };
  EXPECT_LT(at("/a"), at("/a/b"));
  EXPECT_LT(at("/a/b"), at("/a/b/c"));
  EXPECT_LT(at("/zookeeper"), at("/zookeeper/quota"));
  DataTree third;
  ASSERT_TRUE(third.Deserialize(again));
  EXPECT_EQ(third.Serialize().size(), again.size());
  EXPECT_EQ(third.node_count(), 6u);
  for (const char* path : {"/", "/a", "/a/b", "/a/b/c", "/zookeeper", "/zookeeper/quota"}) {
    SCOPED_TRACE(path);
    ASSERT_NE(third.Find(path), nullptr);
    EXPECT_EQ(third.Find(path)->data(), other.Find(path)->data());
    EXPECT_EQ(third.Find(path)->stat(), other.Find(path)->stat());
  }
  // A node whose parent is missing altogether, or a path listed twice, is a damaged snapshot.
  EXPECT_FALSE(other.Deserialize(snapshot({"/a/x/c", "/", "/a"})));
  EXPECT_FALSE(other.Deserialize(snapshot({"/a", "/", "/a"})));
  EXPECT_FALSE(other.Deserialize(snapshot({"/a/b", "/a/b", "/", "/a"})));
  EXPECT_FALSE(other.Deserialize(snapshot({"/a"})));
  EXPECT_EQ(other.node_count(), 6u);  // a failed load leaves the tree as it was
  EXPECT_NE(other.Find("/a/b/c"), nullptr);
}

TEST_F(TreeTest, SerializeToHandsOverTheSameBytesInPieces) {
  for (int i = 0; i < 200; ++i) Create("/p" + std::to_string(i % 20) + (i >= 20 ? "/c" + std::to_string(i) : ""));
  std::string whole = tree_.Serialize();
  EXPECT_EQ(whole.size(), tree_.SerializedSize());
  std::string joined;
  size_t pieces = 0;
  ASSERT_TRUE(tree_.SerializeTo(1000, [&](std::string_view piece) {
    joined.append(piece);
    ++pieces;
    return true;
  }));
  EXPECT_EQ(joined, whole);
  EXPECT_GT(pieces, 5u);
  EXPECT_FALSE(tree_.SerializeTo(1000, [](std::string_view) { return false; }));
}

}  // namespace
}  // namespace faultline::coord

#include "coord/data_tree.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(tree_.Find("/")->stat.num_children, 1);
}

TEST_F(TreeTest, CreateSetsStatAndParent) {
  ApplyResult r = Create("/a");
  ASSERT_EQ(r.err, err::kOk);
  EXPECT_EQ(Str(r.response), "/a");
  const Node* a = tree_.Find("/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->stat.czxid, 1);
  EXPECT_EQ(a->stat.mzxid, 1);
  EXPECT_EQ(a->stat.pzxid, 1);
  EXPECT_EQ(a->stat.ctime, 1001);
  EXPECT_EQ(a->stat.data_length, 1);
  const Node* root = tree_.Find("/");
  EXPECT_EQ(VisibleStat(*root).cversion, 0);  // 2 creates counted, 2 children
  EXPECT_EQ(root->stat.pzxid, 1);
  EXPECT_EQ(root->stat.num_children, 2);
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
  EXPECT_EQ(tree_.Find("/e")->stat.ephemeral_owner, 0x77);
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
  Stat before = tree_.Find("/m")->stat;
  ApplyResult r = Run(op::kMulti, body);
  EXPECT_EQ(r.err, err::kOk);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(tree_.Find("/m/a"), nullptr);
  EXPECT_EQ(tree_.Find("/m")->data, "d");
  EXPECT_EQ(tree_.Find("/m")->stat.cversion, before.cversion);
  EXPECT_EQ(tree_.Find("/m")->stat.num_children, 0);
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
  EXPECT_EQ(other.Find("/s")->stat.num_children, 1);
  EXPECT_EQ(other.Find("/s/e")->stat.ephemeral_owner, 0x77);
  EXPECT_EQ(other.ephemeral_count(), 1u);
  EXPECT_EQ(other.sessions().at(0x77), 30000);
  snap[snap.size() / 2] ^= 0x40;
  snap.resize(snap.size() - 3);
  EXPECT_FALSE(other.Deserialize(snap));
}

}  // namespace
}  // namespace faultline::coord

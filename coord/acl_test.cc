#include "coord/acl.h"

#include <gtest/gtest.h>

#include "coord/wire.h"

namespace faultline::coord {
namespace {

TEST(Digest, MatchesZooKeepersDigestProvider) {
  // The id ZooKeeper's DigestAuthenticationProvider.generateDigest("super:admin") gives.
  EXPECT_EQ(DigestId("super:admin"), "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=");
  EXPECT_EQ(Base64(Sha1("abc")), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
}

TEST(Acl, WorldDigestAndIp) {
  std::vector<AuthId> anon = {{"ip", "127.0.0.1"}};
  std::vector<AuthId> alice = {{"ip", "127.0.0.1"}, {"digest", DigestId("alice:pw")}};
  std::vector<Acl> acl = {{perm::kRead, "world", "anyone"}, {perm::kAll, "digest", DigestId("alice:pw")}};
  EXPECT_TRUE(AclAllows(acl, perm::kRead, anon));
  EXPECT_FALSE(AclAllows(acl, perm::kWrite, anon));
  EXPECT_TRUE(AclAllows(acl, perm::kWrite, alice));
  std::vector<Acl> net = {{perm::kAll, "ip", "127.0.0.0/8"}};
  EXPECT_TRUE(AclAllows(net, perm::kDelete, anon));
  EXPECT_FALSE(AclAllows(net, perm::kDelete, {{"ip", "10.0.0.1"}}));
}

TEST(Acl, FixupResolvesAuthAndRejectsBadEntries) {
  std::vector<AuthId> alice = {{"ip", "127.0.0.1"}, {"digest", DigestId("alice:pw")}};
  std::vector<Acl> acl = {{perm::kAll, "auth", ""}};
  ASSERT_EQ(FixupAcl(&acl, alice), err::kOk);
  ASSERT_EQ(acl.size(), 1u);
  EXPECT_EQ(acl[0].scheme, "digest");
  std::vector<Acl> no_auth = {{perm::kAll, "auth", ""}};
  EXPECT_EQ(FixupAcl(&no_auth, {{"ip", "127.0.0.1"}}), err::kInvalidACL);
  std::vector<Acl> bad_world = {{perm::kAll, "world", "someone"}};
  EXPECT_EQ(FixupAcl(&bad_world, {}), err::kInvalidACL);
  std::vector<Acl> empty;
  EXPECT_EQ(FixupAcl(&empty, {}), err::kInvalidACL);
  std::vector<Acl> bad_scheme = {{perm::kAll, "kerberos", "x"}};
  EXPECT_EQ(FixupAcl(&bad_scheme, {}), err::kInvalidACL);
}

}  // namespace
}  // namespace faultline::coord

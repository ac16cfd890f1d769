// ACL schemes quorumd understands (world, digest, auth, ip) and the checks ZooKeeper
// makes with them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coord/records.h"

namespace faultline::coord {

// An identity a connection has proven: ("ip", "127.0.0.1"), ("digest", "user:HASH").
struct AuthId {
  std::string scheme;
  std::string id;
};

// "user:password" -> "user:base64(sha1(user:password))", ZooKeeper's digest id.
std::string DigestId(std::string_view user_password);

// True when some entry of `acl` grants `perm` to one of `ids` (or to world:anyone).
bool AclAllows(const std::vector<Acl>& acl, int32_t perm, const std::vector<AuthId>& ids);

// Validates an ACL from a client and replaces `auth` entries by the connection's
// authenticated ids, as ZooKeeper's fixupACL does. Returns err::kOk or err::kInvalidACL.
int32_t FixupAcl(std::vector<Acl>* acl, const std::vector<AuthId>& ids);

// Exposed for tests.
std::string Sha1(std::string_view data);
std::string Base64(std::string_view data);

}  // namespace faultline::coord

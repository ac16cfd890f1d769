// The jute records of ZooKeeper's client protocol that quorumd reads and writes
// (zookeeper.jute: Stat, ACL, Id, and the request/response bodies).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coord/jute.h"

namespace faultline::coord {

struct Stat {
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t ctime = 0;
  int64_t mtime = 0;
  int32_t version = 0;
  int32_t cversion = 0;
  int32_t aversion = 0;
  int64_t ephemeral_owner = 0;
  int32_t data_length = 0;
  int32_t num_children = 0;
  int64_t pzxid = 0;
  bool operator==(const Stat&) const = default;
};
void WriteStat(JuteWriter& w, const Stat& s);
Stat ReadStat(JuteReader& r);

struct Acl {
  int32_t perms = 0;
  std::string scheme;
  std::string id;
  bool operator==(const Acl&) const = default;
};
void WriteAcls(JuteWriter& w, const std::vector<Acl>& acls);
std::vector<Acl> ReadAcls(JuteReader& r);

// ephemeralOwner of a container node, as ZooKeeper marks it (EphemeralType.CONTAINER).
inline constexpr int64_t kContainerOwner = INT64_MIN;

struct CreateRequest {
  std::string path;
  std::string data;
  std::vector<Acl> acl;
  int32_t flags = 0;
  int64_t ttl = 0;  // CreateTTLRequest only
};
CreateRequest ReadCreate(JuteReader& r, bool with_ttl);
void WriteCreate(JuteWriter& w, const CreateRequest& c, bool with_ttl);

struct PathVersion {  // DeleteRequest and CheckVersionRequest
  std::string path;
  int32_t version = -1;
};
PathVersion ReadPathVersion(JuteReader& r);
void WritePathVersion(JuteWriter& w, const PathVersion& p);

struct SetDataRequest {
  std::string path;
  std::string data;
  int32_t version = -1;
};
SetDataRequest ReadSetData(JuteReader& r);
void WriteSetData(JuteWriter& w, const SetDataRequest& s);

struct SetAclRequest {
  std::string path;
  std::vector<Acl> acl;
  int32_t version = -1;
};
SetAclRequest ReadSetAcl(JuteReader& r);
void WriteSetAcl(JuteWriter& w, const SetAclRequest& s);

// One operation of a MultiTransactionRecord; `type` says which member is meaningful.
struct MultiOp {
  int32_t type = 0;
  CreateRequest create;  // kCreate, kCreate2, kCreateContainer, kCreateTTL
  PathVersion path_version;  // kDelete, kCheck
  SetDataRequest set_data;   // kSetData
  int32_t err = 0;           // kError: an op refused in prep (NoAuth, InvalidACL, ...)
};
// False on a malformed record or an opcode multi does not allow.
bool ReadMulti(JuteReader& r, std::vector<MultiOp>* ops);
void WriteMulti(JuteWriter& w, const std::vector<MultiOp>& ops);

}  // namespace faultline::coord

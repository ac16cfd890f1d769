// Committed transactions: the one thing the data tree and the session table change on.
//
// A Txn is what a commit path (standalone: the transaction log; ensemble: the atomic
// broadcast in coord/zab/) agrees on and hands back, in zxid order, to every replica.
// Applying the same Txns in the same order to the same DataTree gives the same tree, the
// same sessions and the same per-request results on every replica (see data_tree.h), so
// the consensus core can treat `Encode(txn)` as an opaque payload.
//
// Encoding (jute, big-endian), also the record body in the transaction log:
//   zxid:long  session_id:long  time_ms:long  type:int  body:buffer
// `type` is a ZooKeeper opcode (wire.h, namespace op) and `body` depends on it:
//   kCreate, kCreate2, kCreateContainer  CreateRequest as the client sent it, except that
//                                        `auth` ACL entries are already resolved to ids
//   kDelete, kDeleteContainer            DeleteRequest (path, version)
//   kSetData                             SetDataRequest (path, data, version)
//   kSetACL                              SetACLRequest, ACL resolved as for create
//   kMulti                               MultiTransactionRecord, sub-requests as above
//   kCreateSession                       timeout:int (milliseconds, as negotiated)
//   kCloseSession                        empty
//   kError                               err:int (a request refused before it reached the
//                                        tree, e.g. NoAuth; it still takes a zxid, as in
//                                        ZooKeeper)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace faultline::coord {

struct Txn {
  int64_t zxid = 0;
  int64_t session_id = 0;
  int64_t time_ms = 0;  // the committer's wall clock; becomes ctime/mtime
  int32_t type = 0;
  std::string body;
};

std::string EncodeTxn(const Txn& txn);
// False when `bytes` is not exactly one well-formed Txn.
bool DecodeTxn(std::string_view bytes, Txn* txn);

// Whether a request of this opcode changes state and so becomes a Txn.
bool IsWriteOp(int32_t type);

}  // namespace faultline::coord

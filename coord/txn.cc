#include "coord/txn.h"

#include "coord/jute.h"
#include "coord/wire.h"

namespace faultline::coord {

std::string EncodeTxn(const Txn& txn) {
  std::string out;
  out.reserve(32 + txn.body.size());
  JuteWriter w(&out);
  w.Long(txn.zxid);
  w.Long(txn.session_id);
  w.Long(txn.time_ms);
  w.Int(txn.type);
  w.Buffer(txn.body);
  return out;
}

bool DecodeTxn(std::string_view bytes, Txn* txn) {
  JuteReader r(bytes);
  txn->zxid = r.Long();
  txn->session_id = r.Long();
  txn->time_ms = r.Long();
  txn->type = r.Int();
  txn->body = r.Buffer();
  return r.ok() && r.remaining() == 0;
}

bool IsWriteOp(int32_t type) {
  switch (type) {
    case op::kCreate:
    case op::kCreate2:
    case op::kCreateContainer:
    case op::kCreateTTL:
    case op::kDelete:
    case op::kDeleteContainer:
    case op::kSetData:
    case op::kSetACL:
    case op::kMulti:
    case op::kCreateSession:
    case op::kCloseSession:
    case op::kError:
      return true;
    default:
      return false;
  }
}

}  // namespace faultline::coord

#include "coord/zab/codec.h"

#include <cstdint>
#include <vector>

namespace faultline::zab {

namespace {

// 2: the session list at the end (a learner's touched sessions on PING).
// 3: SYNC, and its request id after the session list.
constexpr uint8_t kVersion = 3;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) U8(static_cast<uint8_t>(v >> shift));
  }
  void U64(uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) U8(static_cast<uint8_t>(v >> shift));
  }
  void Bytes(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void U64List(const std::vector<uint64_t>& v) {
    U32(static_cast<uint32_t>(v.size()));
    for (uint64_t x : v) U64(x);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v, const char* what) {
    if (!Need(1, what)) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v, const char* what) {
    if (!Need(4, what)) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = (*v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U64(uint64_t* v, const char* what) {
    if (!Need(8, what)) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Bytes(std::string* s, const char* what) {
    uint32_t len = 0;
    if (!U32(&len, what) || !Need(len, what)) return false;
    s->assign(in_.substr(pos_, len));
    pos_ += len;
    return true;
  }
  // A count, then that many U64s. The count is checked against the bytes left before anything
  // is allocated, so a lying count cannot ask for more memory than the frame holds.
  bool U64List(std::vector<uint64_t>* v, const char* what) {
    uint32_t count = 0;
    if (!U32(&count, what) || !Need(size_t{count} * 8, what)) return false;
    v->clear();
    v->reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t x = 0;
      U64(&x, what);
      v->push_back(x);
    }
    return true;
  }
  const std::string& error() const { return error_; }
  size_t pos() const { return pos_; }
  size_t size() const { return in_.size(); }

 private:
  bool Need(size_t n, const char* what) {
    if (in_.size() - pos_ >= n) return true;
    error_ = std::string("truncated ") + what + " at byte " + std::to_string(pos_) + ": need " +
             std::to_string(n) + ", have " + std::to_string(in_.size() - pos_);
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::string EncodeMessage(const Message& m) {
  Writer w;
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(m.type));
  w.U64(m.from);
  w.U64(m.to);
  w.U64(m.vote.leader);
  w.U64(m.vote.zxid);
  w.U64(m.vote.round);
  w.U32(m.vote.peer_epoch);
  w.U8(static_cast<uint8_t>(m.vote.state));
  w.U64(m.conn);
  w.U64(m.seq);
  w.U32(m.leader_epoch);
  w.U32(m.epoch);
  w.U64(m.accepted_leader);
  w.U64(m.zxid);
  w.U64(m.commit);
  w.U64(m.txn.zxid);
  w.U8(static_cast<uint8_t>(m.txn.kind));
  w.U64(m.txn.session);
  w.Bytes(m.txn.payload);
  w.U64(m.snapshot.zxid);
  w.Bytes(m.snapshot.data);
  w.U64List(m.sessions);
  w.U64(m.request);
  return w.Take();
}

Status DecodeMessage(std::string_view bytes, Message* out) {
  Reader r(bytes);
  Message m;
  uint8_t version = 0, type = 0, state = 0, kind = 0;
  bool ok = r.U8(&version, "version");
  if (ok && version != kVersion) {
    return Status::Invalid("peer message version " + std::to_string(version) + ", expected " +
                           std::to_string(kVersion));
  }
  ok = ok && r.U8(&type, "type") && r.U64(&m.from, "from") && r.U64(&m.to, "to") &&
       r.U64(&m.vote.leader, "vote.leader") && r.U64(&m.vote.zxid, "vote.zxid") &&
       r.U64(&m.vote.round, "vote.round") && r.U32(&m.vote.peer_epoch, "vote.peerEpoch") &&
       r.U8(&state, "vote.state") && r.U64(&m.conn, "conn") && r.U64(&m.seq, "seq") &&
       r.U32(&m.leader_epoch, "leaderEpoch") && r.U32(&m.epoch, "epoch") && r.U64(&m.accepted_leader, "acceptedLeader") && r.U64(&m.zxid, "zxid") &&
       r.U64(&m.commit, "commit") && r.U64(&m.txn.zxid, "txn.zxid") && r.U8(&kind, "txn.kind") &&
       r.U64(&m.txn.session, "txn.session") && r.Bytes(&m.txn.payload, "txn.payload") &&
       r.U64(&m.snapshot.zxid, "snapshot.zxid") && r.Bytes(&m.snapshot.data, "snapshot.data") &&
       r.U64List(&m.sessions, "sessions") && r.U64(&m.request, "request");
  if (!ok) return Status::Invalid("peer message: " + r.error());
  if (r.pos() != r.size()) {
    return Status::Invalid("peer message: " + std::to_string(r.size() - r.pos()) + " stray bytes after the end");
  }
  if (type > static_cast<uint8_t>(MsgType::kPing)) return Status::Invalid("peer message: unknown type " + std::to_string(type));
  if (state > static_cast<uint8_t>(ServerState::kObserving)) {
    return Status::Invalid("peer message: unknown server state " + std::to_string(state));
  }
  if (kind > static_cast<uint8_t>(TxnKind::kCloseSession)) {
    return Status::Invalid("peer message: unknown transaction kind " + std::to_string(kind));
  }
  m.type = static_cast<MsgType>(type);
  m.vote.state = static_cast<ServerState>(state);
  m.txn.kind = static_cast<TxnKind>(kind);
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace faultline::zab

#include "tests/sim/sim_node.h"

#include <algorithm>
#include <cstring>

namespace faultline::sim {

namespace {

void PutU64(std::string& out, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  out.append(buf, 8);
}

uint64_t GetU64(const std::string& in, size_t& pos) {
  uint64_t v = 0;
  if (pos + 8 <= in.size()) std::memcpy(&v, in.data() + pos, 8);
  pos += 8;
  return v;
}

}  // namespace

std::string SerializeHistory(const std::vector<Txn>& history) {
  std::string out;
  PutU64(out, history.size());
  for (const Txn& txn : history) {
    PutU64(out, txn.zxid);
    PutU64(out, static_cast<uint64_t>(txn.kind));
    PutU64(out, txn.session);
    PutU64(out, txn.payload.size());
    out += txn.payload;
  }
  return out;
}

std::vector<Txn> DeserializeHistory(const std::string& data) {
  std::vector<Txn> out;
  size_t pos = 0;
  uint64_t n = GetU64(data, pos);
  for (uint64_t i = 0; i < n && pos < data.size(); ++i) {
    Txn txn;
    txn.zxid = GetU64(data, pos);
    txn.kind = static_cast<zab::TxnKind>(GetU64(data, pos));
    txn.session = GetU64(data, pos);
    uint64_t len = GetU64(data, pos);
    txn.payload = data.substr(pos, len);
    pos += len;
    out.push_back(std::move(txn));
  }
  return out;
}

void SimNode::Start() {
  zab::PeerConfig config = config_;
  config.incarnation = ++incarnation_;
  history_ = disk_.snapshot;
  zab::DurableState restored{disk_.hard_state, disk_.snapshot_zxid, disk_.log};
  peer_ = std::make_unique<zab::Peer>(config, std::move(restored), this);
}

void SimNode::Crash() {
  peer_.reset();
  pending_.clear();
  history_.clear();
}

zab::SnapshotData SimNode::TakeSnapshot() {
  zab::SnapshotData snap;
  snap.zxid = history_.empty() ? disk_.snapshot_zxid : history_.back().zxid;
  snap.data = SerializeHistory(history_);
  return snap;
}

zab::Ready SimNode::TakeReady(int64_t durable_at, std::vector<std::string>* problems) {
  zab::Ready rd = peer_->TakeReady();
  const std::string who = "server " + std::to_string(config_.id) + ": ";
  if (rd.persist_id != 0) {
    if (!pending_.empty()) durable_at = std::max(durable_at, pending_.back().due);
    pending_.push_back(Pending{durable_at, rd.persist_id, rd.install_snapshot, rd.truncate_after,
                               rd.append, rd.hard_state});
    if (lying_disk_) peer_->OnPersisted(rd.persist_id);
  }
  if (rd.install_snapshot) history_ = DeserializeHistory(rd.install_snapshot->data);
  for (const Txn& txn : rd.commits) {
    if (!history_.empty() && txn.zxid <= history_.back().zxid) {
      problems->push_back(who + "commit " + zab::ZxidHex(txn.zxid) + " after " +
                          zab::ZxidHex(history_.back().zxid));
    }
    history_.push_back(txn);
  }
  for (const zab::Event& ev : rd.events) {
    if (ev.level == zab::Event::Level::kError) problems->push_back(who + ev.text);
  }
  for (std::string& p : disk_problems_) problems->push_back(who + p);
  disk_problems_.clear();
  return rd;
}

void SimNode::CompleteFsyncs(int64_t now) {
  uint64_t last = 0;
  while (!pending_.empty() && pending_.front().due <= now) {
    Pending& p = pending_.front();
    if (p.install) {
      disk_.snapshot_zxid = p.install->zxid;
      disk_.snapshot = DeserializeHistory(p.install->data);
      disk_.log.clear();
    }
    if (p.truncate_after) {
      Zxid cut = *p.truncate_after;
      disk_.log.erase(std::remove_if(disk_.log.begin(), disk_.log.end(),
                                     [cut](const Txn& t) { return t.zxid > cut; }),
                      disk_.log.end());
    }
    for (Txn& txn : p.append) {
      Zxid last_zxid = disk_.log.empty() ? disk_.snapshot_zxid : disk_.log.back().zxid;
      if (txn.zxid <= last_zxid) {
        disk_problems_.push_back("append " + zab::ZxidHex(txn.zxid) + " after " + zab::ZxidHex(last_zxid));
      }
      disk_.log.push_back(std::move(txn));
    }
    if (p.hard_state) disk_.hard_state = *p.hard_state;
    last = p.persist_id;
    pending_.pop_front();
  }
  if (last != 0 && peer_) peer_->OnPersisted(last);
}

void SimNode::Compact() {
  if (!peer_ || !pending_.empty() || history_.empty()) return;
  Zxid upto = history_.back().zxid;
  if (upto <= disk_.snapshot_zxid) return;
  disk_.snapshot = history_;
  disk_.snapshot_zxid = upto;
  disk_.log.erase(std::remove_if(disk_.log.begin(), disk_.log.end(),
                                 [upto](const Txn& t) { return t.zxid <= upto; }),
                  disk_.log.end());
  peer_->CompactLog(upto);
}

}  // namespace faultline::sim

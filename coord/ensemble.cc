#include "coord/ensemble.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "coord/data_tree.h"
#include "coord/log.h"
#include "coord/wire.h"

namespace faultline::coord {

namespace {

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}

LogLevel LevelOf(zab::Event::Level level) {
  switch (level) {
    case zab::Event::Level::kWarn: return LogLevel::kWarn;
    case zab::Event::Level::kError: return LogLevel::kError;
    default: return LogLevel::kInfo;
  }
}

}  // namespace

std::string EncodeProposal(uint64_t origin, uint64_t seq, const Txn& txn) {
  std::string out;
  PutU64(&out, origin);
  PutU64(&out, seq);
  out += EncodeTxn(txn);
  return out;
}

bool DecodeProposal(std::string_view payload, uint64_t* origin, uint64_t* seq, Txn* txn) {
  if (payload.size() < 16) return false;
  *origin = GetU64(payload.substr(0, 8));
  *seq = GetU64(payload.substr(8, 8));
  return DecodeTxn(payload.substr(16), txn);
}

Status EnsembleConfigFrom(const Config& config, zab::PeerConfig* peer, std::vector<zab::PeerEndpoint>* members) {
  if (config.servers.find(config.server_id) == config.servers.end()) {
    return Status::Invalid(fmt::format("{}: myid {} (in {}/myid) has no server.{} line", config.path,
                                       config.server_id, config.data_dir, config.server_id));
  }
  peer->id = static_cast<zab::ServerId>(config.server_id);
  peer->voters.clear();
  peer->observers.clear();
  members->clear();
  for (const auto& [id, spec] : config.servers) {
    (spec.observer ? peer->observers : peer->voters).push_back(static_cast<zab::ServerId>(id));
    members->push_back(zab::PeerEndpoint{static_cast<zab::ServerId>(id), spec.host,
                                         static_cast<uint16_t>(spec.quorum_port)});
  }
  peer->tick_time_ms = config.tick_time;
  peer->tick_ms = std::clamp(config.tick_time / 10, 5, 50);
  peer->init_limit = config.init_limit;
  peer->sync_limit = config.sync_limit;
  peer->incarnation = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  Status st = peer->Validate();
  if (!st.ok()) return st.Annotate(config.path);
  return Status::Ok();
}

EnsembleBridge::EnsembleBridge(const Config& config, DataTree* tree, std::mutex* tree_mutex)
    : config_(config), tree_(tree), tree_mutex_(tree_mutex) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

EnsembleBridge::~EnsembleBridge() {
  Stop();
  if (event_fd_ >= 0) close(event_fd_);
}

Status EnsembleBridge::Open(const std::string& log_dir, std::string* snapshot, std::vector<std::string>* warnings) {
  FAULTLINE_RETURN_IF_ERROR(EnsembleConfigFrom(config_, &peer_config_, &members_));
  return QuorumStorage::Open(log_dir, config_.force_sync, &storage_, &restored_, snapshot, warnings);
}

Status EnsembleBridge::Start() {
  network_ = std::make_unique<zab::PeerNetwork>(peer_config_.id, members_);
  FAULTLINE_RETURN_IF_ERROR(network_->Start());
  node_ = std::make_unique<zab::EnsembleNode>(peer_config_, std::move(restored_), network_.get(), this, this);
  node_->Start();
  return Status::Ok();
}

void EnsembleBridge::Stop() {
  if (node_) node_->Stop();
  if (network_) network_->Stop();
}

void EnsembleBridge::Push(EnsembleItem item) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(item));
  }
  uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

std::vector<EnsembleItem> EnsembleBridge::Take() {
  uint64_t v;
  (void)!read(event_fd_, &v, sizeof v);
  std::vector<EnsembleItem> out;
  std::lock_guard<std::mutex> lock(inbox_mu_);
  out.swap(inbox_);
  return out;
}

void EnsembleBridge::Propose(uint64_t seq, const Txn& txn) {
  node_->Submit(EncodeProposal(peer_config_.id, seq, txn), static_cast<uint64_t>(txn.session_id));
}

void EnsembleBridge::CloseSession(uint64_t session) { node_->SubmitCloseSession(session); }

void EnsembleBridge::Touch(std::vector<uint64_t> sessions) { node_->SubmitTouches(std::move(sessions)); }

void EnsembleBridge::Sync(uint64_t seq) { node_->SubmitSync(seq); }

zab::PeerStatus EnsembleBridge::Describe() const {
  return node_ ? node_->DescribeCached() : zab::PeerStatus{};
}

faultline::Status EnsembleBridge::SaveSnapshot(int64_t zxid, std::string_view data, int retain) {
  {
    std::lock_guard<std::mutex> lock(storage_mu_);
    FAULTLINE_RETURN_IF_ERROR(storage_->SaveSnapshot(static_cast<zab::Zxid>(zxid), data, retain));
  }
  node_->CompactLog(static_cast<zab::Zxid>(zxid));
  return faultline::Status::Ok();
}

int64_t EnsembleBridge::fsync_count() const {
  std::lock_guard<std::mutex> lock(storage_mu_);
  return storage_ ? storage_->fsync_count() : 0;
}

faultline::Status EnsembleBridge::storage_error() const {
  return node_ ? node_->storage_error() : faultline::Status::Ok();
}

faultline::Status EnsembleBridge::Persist(const zab::Ready& ready) {
  std::lock_guard<std::mutex> lock(storage_mu_);
  return storage_->Persist(ready);
}

zab::SnapshotData EnsembleBridge::TakeSnapshot() {
  std::lock_guard<std::mutex> lock(*tree_mutex_);
  return zab::SnapshotData{static_cast<zab::Zxid>(tree_->last_zxid()), tree_->Serialize()};
}

void EnsembleBridge::Apply(const zab::Txn& txn) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kCommit;
  if (txn.kind == zab::TxnKind::kCloseSession) {
    item.txn.session_id = static_cast<int64_t>(txn.session);
    item.txn.type = op::kCloseSession;
  } else if (!DecodeProposal(txn.payload, &item.origin, &item.seq, &item.txn)) {
    // Cannot happen with payloads quorumd proposed; applying nothing would fork the tree,
    // so it becomes an error txn that changes nothing but still takes its zxid.
    Log(LogLevel::kError, "QuorumPeer@0", "Committed transaction {} does not decode; applied as a no-op",
        Hex(static_cast<int64_t>(txn.zxid)));
    item.txn = Txn{};
    item.txn.type = op::kError;
    item.txn.body = std::string(4, '\0');
  }
  item.txn.zxid = static_cast<int64_t>(txn.zxid);
  Push(std::move(item));
}

void EnsembleBridge::Install(const zab::SnapshotData& snapshot) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kInstall;
  item.snapshot = snapshot.data;
  item.snapshot_zxid = static_cast<int64_t>(snapshot.zxid);
  Push(std::move(item));
}

void EnsembleBridge::OnRoleChange(zab::ServerState state, bool serving) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kRole;
  item.state = state;
  item.serving = serving;
  Push(std::move(item));
}

void EnsembleBridge::OnEvent(const zab::Event& event) {
  LogLine(LevelOf(event.level), "QuorumPeer@0", event.text);
}

void EnsembleBridge::OnTouched(const std::vector<uint64_t>& sessions) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kTouched;
  item.sessions = sessions;
  Push(std::move(item));
}

void EnsembleBridge::OnSync(uint64_t id, zab::Zxid zxid, bool ok) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kSync;
  item.seq = id;
  item.sync_zxid = static_cast<int64_t>(zxid);
  item.sync_ok = ok;
  Push(std::move(item));
}

void EnsembleBridge::OnRefused(const std::string& payload, uint64_t session, const faultline::Status& why) {
  EnsembleItem item;
  item.kind = EnsembleItem::Kind::kRefused;
  Txn ignored;
  if (payload.empty() || !DecodeProposal(payload, &item.origin, &item.seq, &ignored)) item.sessions = {session};
  Log(LogLevel::kWarn, "QuorumPeer@0", "Request not proposed: {}", why.message());
  Push(std::move(item));
}

}  // namespace faultline::coord

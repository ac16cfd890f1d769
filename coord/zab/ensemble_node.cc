#include "coord/zab/ensemble_node.h"

#include <chrono>

namespace faultline::zab {

EnsembleNode::EnsembleNode(PeerConfig config, DurableState restored, PeerNetwork* network,
                           ZabStorage* storage, ZabApplication* app)
    : config_(config), network_(network), storage_(storage), app_(app),
      peer_(std::make_unique<Peer>(std::move(config), std::move(restored), app)),
      cached_(peer_->Describe()) {}

EnsembleNode::~EnsembleNode() { Stop(); }

void EnsembleNode::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  DrainReadys();  // the first LOOKING and its notifications
  RefreshCached();
  thread_ = std::thread([this] { Loop(); });
}

void EnsembleNode::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    network_->Wake();
    thread_.join();
  }
}

Status EnsembleNode::Propose(std::string payload, uint64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!storage_error_.ok()) return storage_error_;
  Status st = peer_->Propose(std::move(payload), session);
  if (st.ok()) DrainReadys();
  return st;
}

Status EnsembleNode::ProposeCloseSession(uint64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!storage_error_.ok()) return storage_error_;
  Status st = peer_->ProposeCloseSession(session);
  if (st.ok()) DrainReadys();
  return st;
}

void EnsembleNode::Submit(std::string payload, uint64_t session) {
  Submission s;
  s.kind = Submission::Kind::kWrite;
  s.payload = std::move(payload);
  s.session = session;
  Enqueue(std::move(s));
}

void EnsembleNode::SubmitCloseSession(uint64_t session) {
  Submission s;
  s.kind = Submission::Kind::kCloseSession;
  s.session = session;
  Enqueue(std::move(s));
}

void EnsembleNode::SubmitTouches(std::vector<uint64_t> sessions) {
  if (sessions.empty()) return;
  Submission s;
  s.kind = Submission::Kind::kTouches;
  s.sessions = std::move(sessions);
  Enqueue(std::move(s));
}

void EnsembleNode::SubmitSync(uint64_t id) {
  Submission s;
  s.kind = Submission::Kind::kSync;
  s.sync_id = id;
  Enqueue(std::move(s));
}

void EnsembleNode::Enqueue(Submission s) {
  {
    std::lock_guard<std::mutex> lock(submit_mu_);
    submitted_.push_back(std::move(s));
  }
  network_->Wake();
}

void EnsembleNode::DrainSubmissions() {
  std::vector<Submission> work;
  {
    std::lock_guard<std::mutex> lock(submit_mu_);
    work.swap(submitted_);
  }
  for (Submission& s : work) {
    Status st;
    switch (s.kind) {
      case Submission::Kind::kWrite:
        // Propose consumes its payload; the copy is what a refusal reports.
        st = storage_error_.ok() ? peer_->Propose(s.payload, s.session) : storage_error_;
        break;
      case Submission::Kind::kCloseSession:
        st = storage_error_.ok() ? peer_->ProposeCloseSession(s.session) : storage_error_;
        break;
      case Submission::Kind::kTouches:
        if (storage_error_.ok()) peer_->TouchSessions(s.sessions);
        continue;
      case Submission::Kind::kSync:
        if (!storage_error_.ok() || !peer_->Sync(s.sync_id).ok()) app_->OnSync(s.sync_id, 0, false);
        continue;
    }
    if (!st.ok()) app_->OnRefused(s.payload, s.session, st);
  }
}

void EnsembleNode::RefreshCached() {
  PeerStatus st = peer_->Describe();
  std::lock_guard<std::mutex> lock(cached_mu_);
  cached_ = std::move(st);
}

PeerStatus EnsembleNode::DescribeCached() const {
  std::lock_guard<std::mutex> lock(cached_mu_);
  return cached_;
}

PeerStatus EnsembleNode::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peer_->Describe();
}

void EnsembleNode::CompactLog(Zxid upto) {
  std::lock_guard<std::mutex> lock(mu_);
  peer_->CompactLog(upto);
}

Status EnsembleNode::storage_error() const {
  std::lock_guard<std::mutex> lock(cached_mu_);
  return storage_error_cached_;
}

// Nothing in a Ready's messages or commits depends on that Ready's own records (peer.h): the
// core holds back what claims durability until OnPersisted, and hands out only durable commits.
// So a Ready's messages go out and its commits are applied before its fsync, not after it: a
// leader's proposals reach the followers while it syncs them itself, and answers to clients do
// not wait behind the next batch's fsync. A snapshot install is the exception: it must be
// durable before it replaces the state, and its commits follow it.
void EnsembleNode::DrainReadys() {
  while (storage_error_.ok() && peer_->HasReady()) {
    Ready rd = peer_->TakeReady();
    const bool early = !rd.install_snapshot;
    if (early) {
      network_->Send(rd.messages);
      for (const Txn& t : rd.commits) app_->Apply(t);
    }
    if (rd.HasPersistence()) {
      Status st = storage_->Persist(rd);
      if (!st.ok()) {
        // Nothing more may leave: later messages would claim what is not on disk.
        storage_error_ = st.Annotate("server " + std::to_string(config_.id) + ": persisting");
        {
          std::lock_guard<std::mutex> lock(cached_mu_);
          storage_error_cached_ = storage_error_;
        }
        app_->OnEvent(Event{Event::Level::kError, storage_error_.message()});
        return;
      }
      peer_->OnPersisted(rd.persist_id);
    }
    if (!early) {
      network_->Send(rd.messages);
      app_->Install(*rd.install_snapshot);
      for (const Txn& t : rd.commits) app_->Apply(t);
    }
    if (!rd.touched_sessions.empty()) app_->OnTouched(rd.touched_sessions);
    for (const Event& e : rd.events) app_->OnEvent(e);
    for (const Ready::SyncDone& s : rd.syncs) app_->OnSync(s.id, s.zxid, s.ok);
    if (rd.state || rd.serving) {
      PeerStatus st = peer_->Describe();
      app_->OnRoleChange(st.state, st.serving);
    }
  }
}

void EnsembleNode::Loop() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::chrono::milliseconds(config_.tick_ms);
  auto next_tick = Clock::now() + tick;
  while (!stop_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    std::vector<Message> in = network_->Receive(std::max(wait, std::chrono::milliseconds(0)));
    std::lock_guard<std::mutex> lock(mu_);
    DrainSubmissions();  // refused at once after a storage error
    if (!storage_error_.ok()) {
      next_tick = Clock::now() + tick;  // stopped for good: just drain the network, slowly
      RefreshCached();
      continue;
    }
    for (const Message& m : in) peer_->Step(m);
    // Ticks are counted, not skipped: a loop held up by a slow fsync catches up.
    while (Clock::now() >= next_tick) {
      peer_->Tick();
      next_tick += tick;
    }
    DrainReadys();
    RefreshCached();
  }
}

}  // namespace faultline::zab

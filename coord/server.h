// quorumd's standalone server: one event-loop thread owns the sockets, the data tree, the
// sessions and the watches; the transaction log's sync thread does the fsyncs.
//
// The request pipeline:
//   read a packet -> prep (decode, check ACLs against the tree, resolve `auth` ACLs)
//   -> a Txn with the next zxid -> CommitPath::Append -> ApplyCommitted (tree, sessions,
//   watches) -> replies and watch events queued on connections, each tagged with the zxid
//   that must be durable before it leaves -> released when the commit path reports that
//   zxid durable.
// Reads run against the tree at once and are tagged with the tree's last zxid, so no
// client ever sees a write before it is on disk, and a session's replies leave in order.
//
// In an ensemble (zoo.cfg lists two or more servers), Append becomes "propose" through
// EnsembleBridge (ensemble.h), and txns committed by the quorum arrive through
// ApplyCommitted whoever proposed them; a reply is released when its txn is committed, which
// means durable on a quorum. While the server is not serving (LOOKING, syncing) it accepts
// no client sessions and closes the ones it had, as ZooKeeper does.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "coord/acl.h"
#include "coord/config.h"
#include "coord/connection.h"
#include "coord/data_tree.h"
#include "coord/jute.h"
#include "coord/storage.h"

namespace faultline::coord {

class EnsembleBridge;
struct EnsembleItem;

class Server {
 public:
  explicit Server(Config config);
  ~Server();

  // Recovers dataDir, opens the log and binds the client port.
  Status Start();
  // Serves until RequestStop(); returns non-ok when durability was lost.
  Status Run();
  // Safe from a signal handler.
  void RequestStop();

  int bound_port() const { return port_; }
  // The AdminServer's port once bound (0: not serving it).
  int admin_port() const { return admin_port_; }

  // Applies a committed transaction and delivers its results and watch events.
  void ApplyCommitted(const Txn& txn, Connection* origin, int32_t xid, uint64_t seq = 0);

 private:
  struct SessionState {
    int32_t timeout = 0;
    int64_t expire_at_ms = 0;
    uint64_t conn = 0;
    bool closing = false;
  };

  void Accept();
  void OnReadable(Connection* c);
  void OnWritable(Connection* c);
  bool HandlePacket(Connection* c, std::string_view packet);
  bool HandleConnect(Connection* c, std::string_view packet);
  bool HandleRequest(Connection* c, std::string_view packet);
  void HandleRead(Connection* c, int32_t xid, int32_t type, JuteReader& r);
  bool HandleWrite(Connection* c, int32_t xid, int32_t type, std::string_view body);
  void HandleSetWatches(Connection* c, JuteReader& r, bool v2);
  void HandleFourLetter(Connection* c, const std::string& word);  // four_letter.cc
  nlohmann::ordered_json MonitorValues();                          // four_letter.cc
  nlohmann::ordered_json ServerStatsValues(bool with_connections);  // four_letter.cc
  // The AdminServer (admin_server.cc): HTTP/1.1 on admin.serverAddress:admin.serverPort, in
  // the same loop as the clients.
  struct AdminConn {
    int fd = -1;
    std::string in;
    std::string out;
    size_t sent = 0;
    int64_t opened_ms = 0;
    bool answered = false;
  };
  Status StartAdmin();
  void AdminAccept();
  void OnAdmin(uint64_t tag, uint32_t events);
  void ExpireAdmin();
  std::string AdminCommand(const std::string& name);
  // Prep: turns a write request into a Txn body, or an error code for a kError txn.
  int32_t Prep(Connection* c, int32_t type, std::string_view body, std::string* txn_body);
  int32_t PrepCreate(Connection* c, CreateRequest* req);
  bool Submit(Connection* c, int32_t xid, int32_t type, int64_t session, std::string body);
  void Reply(Connection* c, int32_t xid, int64_t zxid, int32_t err, std::string_view body, int64_t tag);
  void Queue(Connection* c, std::string bytes, int64_t tag);
  void Release(Connection* c);
  void FireWatches(const std::vector<WatchEvent>& events, int64_t zxid);
  void RemoveWatches(Connection* c);
  void Close(Connection* c, const char* why);
  void Tick();
  void MaybeSnapshot();
  void TouchSession(Connection* c);
  std::vector<AuthId> IdsOf(Connection* c) const;
  bool Allowed(Connection* c, const Node& node, int32_t perm) const;
  int64_t NowMs() const;
  int64_t WallMs() const;
  int64_t NextSessionId();
  std::string PasswordFor(int64_t session) const;
  void WriteFailed(const Status& st);
  std::string Frame(int32_t xid, int64_t zxid, int32_t err, std::string_view body);
  void SendConnectResponse(Connection* c, int32_t timeout, int64_t session, int64_t tag);
  int64_t DurableZxid() const;
  void QueueBefore(Connection* c, uint64_t seq, std::string bytes, int64_t tag);
  // Ensemble.
  void OnEnsemble();
  void OnEnsembleCommit(EnsembleItem& item);
  void OnRoleChange(EnsembleItem& item);
  void CloseAllClients(const char* why);
  void ResetFromTree();
  void LeaveEnsemble(const Status& why);
  void RejoinEnsemble();
  bool Leading() const;
  std::string ModeName() const;

  Config config_;
  DataTree tree_;
  std::unique_ptr<TxnLogWriter> log_;  // standalone only
  std::unique_ptr<EnsembleBridge> ens_;  // ensemble only
  std::mutex tree_mu_;  // held by the server thread for each loop round; see ensemble.h
  bool ensemble_mode_ = false;  // zoo.cfg lists two or more servers
  bool storage_down_ = false;   // left the ensemble: the log could not be written
  int64_t rejoin_at_ms_ = 0;
  bool serving_ = true;
  int role_ = 0;  // zab::ServerState while in an ensemble
  struct Pending {
    uint64_t conn = 0;
    int32_t xid = 0;
    bool connect = false;
    int32_t timeout = 0;
    std::string path;  // a client's sync: the path to echo
  };
  std::unordered_map<uint64_t, Pending> pending_;  // our proposals by request number
  // Syncs the leader answered, waiting for the tree to apply up to their zxid: zxid -> seq.
  std::multimap<int64_t, uint64_t> waiting_syncs_;
  void CompleteSync(uint64_t seq);
  void CompleteAppliedSyncs();
  // Ensemble: a request waiting for the quorum holds its place on the connection (later
  // replies wait behind it); FillPlace puts the answer there and releases what can go.
  void HoldPlace(Connection* c, uint64_t seq);
  void FillPlace(Connection* c, uint64_t seq, int32_t xid, int64_t zxid, int32_t err, std::string_view body);
  uint64_t next_seq_ = 0;
  std::set<int64_t> touched_;
  Connection* pending_watch_origin_ = nullptr;  // while applying one of our own writes
  uint64_t pending_watch_seq_ = 0;  // sessions seen alive since the last report to the leader
  std::string log_dir_;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int timer_fd_ = -1;
  int port_ = 0;
  int admin_fd_ = -1;
  int admin_port_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<AdminConn>> admin_conns_;
  Status fatal_;
  bool disk_full_ = false;

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_conn_id_ = 16;  // low ids tag the listener and the event fds in epoll
  std::set<uint64_t> holding_;  // connections with replies waiting for durability
  std::unordered_map<int64_t, SessionState> sessions_;
  int64_t next_session_id_ = 0;
  std::unordered_map<std::string, std::set<uint64_t>> data_watches_;
  std::unordered_map<std::string, std::set<uint64_t>> child_watches_;

  // Snapshots.
  int64_t txns_since_snapshot_ = 0;
  int64_t snapshot_threshold_ = 0;
  std::thread snapshot_thread_;
  std::atomic<bool> snapshot_running_{false};

  // Figures for the four-letter words.
  int64_t start_ms_ = 0;
  int64_t packets_received_ = 0;
  int64_t packets_sent_ = 0;
  int64_t bytes_received_ = 0;
  int64_t min_latency_ = -1;
  int64_t max_latency_ = 0;
  int64_t total_latency_ = 0;
  int64_t latency_count_ = 0;
  int64_t outstanding_ = 0;
  int64_t auth_failed_ = 0;
  int64_t unsuccessful_handshakes_ = 0;
  int64_t connection_rejected_ = 0;
  int64_t last_response_size_ = -1;
  int64_t min_response_size_ = -1;
  int64_t max_response_size_ = -1;
  int64_t expired_sessions_ = 0;
  int64_t connection_requests_ = 0;
  int64_t txns_logged_ = 0;
  std::atomic<int64_t> snapshots_taken_{0};
  std::atomic<int64_t> last_snapshot_ms_{0};
  RecoveryResult recovery_;
  int64_t startup_ms_ = 0;
};

}  // namespace faultline::coord

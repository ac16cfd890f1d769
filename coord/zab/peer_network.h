// The ensemble's peer network: one TCP connection per peer for what we send, accepted
// connections for what they send, all driven by one I/O thread over non-blocking sockets.
//
// The point of it (../shared/seeds/004_...: a ZooKeeper 3.4 election stalled for minutes
// behind a blocking connect to a decommissioned peer): Send() never blocks and no peer can
// hold up another. A connect to a peer that is down fails at once; a connect into a black hole
// (SYNs dropped) is abandoned after connect_timeout and retried later, while frames to every
// other peer keep flowing. Frames queued for an unreachable peer are bounded; the oldest are
// dropped first, which the core tolerates (it treats the network as lossy).
//
// Wire: each connection starts with a hello frame naming the sender; then frames, each a
// 4-byte big-endian length and an encoded Message (codec.h). A frame whose sender does not
// match the hello, or that does not decode, closes the connection.
//
// Thread safety: Send(), Receive(), Wake() and Stats() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "coord/zab/message.h"

namespace faultline::zab {

struct PeerEndpoint {
  ServerId id = 0;
  std::string host;  // numeric address or name, resolved once by Start()
  uint16_t port = 0;
};

struct PeerNetworkOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // The wait before a link that closed is made again, and the longest between connects that
  // fail (those start at 10 ms and double).
  std::chrono::milliseconds retry_interval{250};
  // Data unacknowledged this long closes the connection (TCP_USER_TIMEOUT); it is made anew.
  std::chrono::milliseconds stall_timeout{5000};
  // Per peer. A sync stream (DIFF with its proposals and commits) is queued in one go, often
  // while the connection to a restarted learner is still being made, so the bound is set by
  // memory, not by a frame count a catch-up could exceed: dropping part of a sync stream
  // makes the learner reconnect and the leader send it all again, for ever.
  size_t max_queued_frames = 1u << 20;
  size_t max_queued_bytes = 64u << 20;
};

struct PeerLinkStats {
  bool connected = false;
  uint64_t frames_sent = 0;
  uint64_t frames_dropped = 0;
  uint64_t connect_failures = 0;
  uint64_t frames_received = 0;
};

class PeerNetwork {
 public:
  // members: every server including self (self's endpoint is where we listen).
  PeerNetwork(ServerId self, std::vector<PeerEndpoint> members, PeerNetworkOptions options = {});
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // Resolves every member, listens on self's endpoint and starts the I/O thread.
  Status Start();
  // Stops the thread and closes every socket. Idempotent.
  void Stop();

  // Queues msg for msg.to. Never blocks; a frame for an unknown peer is dropped.
  void Send(const Message& msg);
  // The same for a batch (a Ready's messages): one wake-up of the I/O thread for all of them.
  void Send(const std::vector<Message>& msgs);
  // Waits up to `timeout` for a message; returns everything that has arrived (maybe nothing).
  std::vector<Message> Receive(std::chrono::milliseconds timeout);
  // Makes a blocked Receive() return at once (or the next one, if none is waiting), with
  // whatever has arrived: how a thread hands work to the one that receives.
  void Wake();

  std::map<ServerId, PeerLinkStats> Stats() const;

 private:
  struct Outgoing;
  struct Incoming;
  void Loop();
  void StartConnect(Outgoing& out);
  void CloseOutgoing(Outgoing& out, bool failed);
  void FlushOutgoing(Outgoing& out);
  void ReadIncoming(int fd);
  void UpdateInterest(Outgoing& out);

  const ServerId self_;
  std::vector<PeerEndpoint> members_;
  const PeerNetworkOptions options_;

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::map<ServerId, std::deque<std::string>> submitted_;  // GUARDED_BY(mu_): frames from Send()
  std::vector<Message> inbox_;                             // GUARDED_BY(mu_)
  bool woken_ = false;                                     // GUARDED_BY(mu_): Wake() since the last Receive()
  std::map<ServerId, PeerLinkStats> stats_;                // GUARDED_BY(mu_)
  std::condition_variable inbox_cv_;

  // Owned by the I/O thread.
  std::map<ServerId, Outgoing*> outgoing_;
  std::map<int, Incoming*> incoming_;
};

}  // namespace faultline::zab

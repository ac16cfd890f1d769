// The vocabulary of the ensemble core: server ids, zxids, server states, transactions and the
// durable per-server state ZooKeeper keeps beside its log (acceptedEpoch and currentEpoch).
//
// Nothing here knows what a transaction means: payloads are opaque bytes owned by the
// application (quorumd's data tree, or the simulator's list of writes).
#pragma once

#include <cstdint>
#include <string>

namespace faultline::zab {

using ServerId = uint64_t;  // myid; 0 means "nobody" (an observer's vote, no leader yet)
using Zxid = uint64_t;      // epoch << 32 | counter, as ZooKeeper numbers transactions

constexpr Zxid MakeZxid(uint32_t epoch, uint32_t counter) {
  return (static_cast<uint64_t>(epoch) << 32) | counter;
}
constexpr uint32_t EpochOf(Zxid zxid) { return static_cast<uint32_t>(zxid >> 32); }
constexpr uint32_t CounterOf(Zxid zxid) { return static_cast<uint32_t>(zxid & 0xffffffffu); }

// "0x100000003": the form ZooKeeper's logs and four-letter words use.
std::string ZxidHex(Zxid zxid);
std::string Hex(uint64_t value);

enum class ServerState : uint8_t { kLooking, kFollowing, kLeading, kObserving };
// "LOOKING", "FOLLOWING", "LEADING", "OBSERVING": ZooKeeper's own names.
const char* StateName(ServerState state);

enum class TxnKind : uint8_t {
  kClient,        // an application write; payload is the application's bytes
  kCloseSession,  // decided by the leader alone when the application reports a session expired
};

struct Txn {
  Zxid zxid = 0;
  TxnKind kind = TxnKind::kClient;
  uint64_t session = 0;  // the session that asked for the write, or the one to close
  std::string payload;

  bool operator==(const Txn&) const = default;
};

// What ZooKeeper keeps in the acceptedEpoch and currentEpoch files. accepted_leader is ours:
// remembering who we promised an epoch to lets a follower re-acknowledge the same leader after
// a reconnect without ever acknowledging one epoch to two different leaders.
struct HardState {
  uint32_t accepted_epoch = 0;
  ServerId accepted_leader = 0;
  uint32_t current_epoch = 0;

  bool operator==(const HardState&) const = default;
};

struct SnapshotData {
  Zxid zxid = 0;     // the last transaction the snapshot contains
  std::string data;  // the application's serialized state
};

}  // namespace faultline::zab

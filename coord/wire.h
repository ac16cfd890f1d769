// Every constant of ZooKeeper's client wire protocol (jute, 3.8) that quorumd speaks,
// in one place: opcodes, error codes, special xids, create modes, watch event types,
// ACL permissions. The numbers are ZooKeeper's; clients compare them literally.
#pragma once

#include <cstdint>

namespace faultline::coord {

// org.apache.zookeeper.ZooDefs.OpCode
namespace op {
inline constexpr int32_t kNotification = 0;
inline constexpr int32_t kCreate = 1;
inline constexpr int32_t kDelete = 2;
inline constexpr int32_t kExists = 3;
inline constexpr int32_t kGetData = 4;
inline constexpr int32_t kSetData = 5;
inline constexpr int32_t kGetACL = 6;
inline constexpr int32_t kSetACL = 7;
inline constexpr int32_t kGetChildren = 8;
inline constexpr int32_t kSync = 9;
inline constexpr int32_t kPing = 11;
inline constexpr int32_t kGetChildren2 = 12;
inline constexpr int32_t kCheck = 13;
inline constexpr int32_t kMulti = 14;
inline constexpr int32_t kCreate2 = 15;
inline constexpr int32_t kReconfig = 16;
inline constexpr int32_t kCheckWatches = 17;
inline constexpr int32_t kRemoveWatches = 18;
inline constexpr int32_t kCreateContainer = 19;
inline constexpr int32_t kDeleteContainer = 20;
inline constexpr int32_t kCreateTTL = 21;
inline constexpr int32_t kMultiRead = 22;
inline constexpr int32_t kAuth = 100;
inline constexpr int32_t kSetWatches = 101;
inline constexpr int32_t kSasl = 102;
inline constexpr int32_t kGetEphemerals = 103;
inline constexpr int32_t kGetAllChildrenNumber = 104;
inline constexpr int32_t kSetWatches2 = 105;
inline constexpr int32_t kAddWatch = 106;
inline constexpr int32_t kWhoAmI = 107;
inline constexpr int32_t kCreateSession = -10;
inline constexpr int32_t kCloseSession = -11;
inline constexpr int32_t kError = -1;
}  // namespace op

// org.apache.zookeeper.KeeperException.Code
namespace err {
inline constexpr int32_t kOk = 0;
inline constexpr int32_t kSystemError = -1;
inline constexpr int32_t kRuntimeInconsistency = -2;
inline constexpr int32_t kDataInconsistency = -3;
inline constexpr int32_t kConnectionLoss = -4;
inline constexpr int32_t kMarshallingError = -5;
inline constexpr int32_t kUnimplemented = -6;
inline constexpr int32_t kOperationTimeout = -7;
inline constexpr int32_t kBadArguments = -8;
inline constexpr int32_t kUnknownSession = -12;
inline constexpr int32_t kNewConfigNoQuorum = -13;
inline constexpr int32_t kReconfigInProgress = -14;
inline constexpr int32_t kApiError = -100;
inline constexpr int32_t kNoNode = -101;
inline constexpr int32_t kNoAuth = -102;
inline constexpr int32_t kBadVersion = -103;
inline constexpr int32_t kNoChildrenForEphemerals = -108;
inline constexpr int32_t kNodeExists = -110;
inline constexpr int32_t kNotEmpty = -111;
inline constexpr int32_t kSessionExpired = -112;
inline constexpr int32_t kInvalidCallback = -113;
inline constexpr int32_t kInvalidACL = -114;
inline constexpr int32_t kAuthFailed = -115;
inline constexpr int32_t kSessionMoved = -118;
inline constexpr int32_t kNotReadOnly = -119;
inline constexpr int32_t kEphemeralOnLocalSession = -120;
inline constexpr int32_t kNoWatcher = -121;
inline constexpr int32_t kRequestTimeout = -122;
inline constexpr int32_t kReconfigDisabled = -123;
inline constexpr int32_t kQuotaExceeded = -125;
inline constexpr int32_t kThrottledOp = -127;
}  // namespace err

// Reserved xids the server uses in reply headers (and clients in requests).
namespace xid {
inline constexpr int32_t kWatchEvent = -1;
inline constexpr int32_t kPing = -2;
inline constexpr int32_t kAuth = -4;
inline constexpr int32_t kSetWatches = -8;
}  // namespace xid

// org.apache.zookeeper.CreateMode as the flags field of CreateRequest.
namespace create_mode {
inline constexpr int32_t kPersistent = 0;
inline constexpr int32_t kEphemeral = 1;
inline constexpr int32_t kPersistentSequential = 2;
inline constexpr int32_t kEphemeralSequential = 3;
inline constexpr int32_t kContainer = 4;
inline constexpr int32_t kPersistentWithTtl = 5;
inline constexpr int32_t kPersistentSequentialWithTtl = 6;
}  // namespace create_mode

// org.apache.zookeeper.Watcher.Event.EventType and KeeperState.
namespace event {
inline constexpr int32_t kNone = -1;
inline constexpr int32_t kNodeCreated = 1;
inline constexpr int32_t kNodeDeleted = 2;
inline constexpr int32_t kNodeDataChanged = 3;
inline constexpr int32_t kNodeChildrenChanged = 4;
inline constexpr int32_t kDataWatchRemoved = 5;
inline constexpr int32_t kChildWatchRemoved = 6;
inline constexpr int32_t kStateSyncConnected = 3;
}  // namespace event

// WatcherType in CheckWatchesRequest/RemoveWatchesRequest.
namespace watcher_type {
inline constexpr int32_t kChildren = 1;
inline constexpr int32_t kData = 2;
inline constexpr int32_t kAny = 3;
}  // namespace watcher_type

// org.apache.zookeeper.ZooDefs.Perms
namespace perm {
inline constexpr int32_t kRead = 1;
inline constexpr int32_t kWrite = 2;
inline constexpr int32_t kCreate = 4;
inline constexpr int32_t kDelete = 8;
inline constexpr int32_t kAdmin = 16;
inline constexpr int32_t kAll = 31;
}  // namespace perm

// ConnectResponse carries a 16-byte password; a session id of 0 asks for a new session.
inline constexpr int kPasswordLength = 16;
// ZooKeeper refuses packets larger than jute.maxbuffer (default 0xfffff bytes, 1 MiB - 1).
inline constexpr int32_t kDefaultMaxBuffer = 0xfffff;
// The four-letter words arrive as four ASCII bytes where a length prefix would be.
inline constexpr int kFourLetterLength = 4;
// A ReplyHeader is xid(int) zxid(long) err(int).
inline constexpr int kReplyHeaderLength = 16;

// The version string clients and tools parse from srvr/mntr ("3.8.0" prefix).
inline constexpr const char* kZooKeeperVersion = "3.8.0-quorumd, built on 2026-11-22 00:00 UTC";

}  // namespace faultline::coord

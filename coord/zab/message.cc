#include "coord/zab/message.h"

namespace faultline::zab {

const char* MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kNotification: return "NOTIFICATION";
    case MsgType::kFollowerInfo: return "FOLLOWERINFO";
    case MsgType::kObserverInfo: return "OBSERVERINFO";
    case MsgType::kAckEpoch: return "ACKEPOCH";
    case MsgType::kAck: return "ACK";
    case MsgType::kRequest: return "REQUEST";
    case MsgType::kLeaderInfo: return "LEADERINFO";
    case MsgType::kDiff: return "DIFF";
    case MsgType::kTrunc: return "TRUNC";
    case MsgType::kSnap: return "SNAP";
    case MsgType::kProposal: return "PROPOSAL";
    case MsgType::kCommit: return "COMMIT";
    case MsgType::kInform: return "INFORM";
    case MsgType::kNewLeader: return "NEWLEADER";
    case MsgType::kUpToDate: return "UPTODATE";
    case MsgType::kSync: return "SYNC";
    case MsgType::kPing: return "PING";
    case MsgType::kLinkDown: return "LINKDOWN";
  }
  return "UNKNOWN";
}

namespace {

std::string TxnString(const Txn& txn) {
  std::string out = ZxidHex(txn.zxid);
  if (txn.kind == TxnKind::kCloseSession) {
    out += " closeSession:0x" + Hex(txn.session);
  } else {
    out += " \"" + txn.payload + "\"";
  }
  return out;
}

}  // namespace

std::string Message::ToString() const {
  std::string out = std::to_string(from) + "->" + std::to_string(to) + " " + MsgTypeName(type);
  switch (type) {
    case MsgType::kNotification:
      out += " leader=" + std::to_string(vote.leader) + " zxid=" + ZxidHex(vote.zxid) +
             " round=0x" + Hex(vote.round) + " peerEpoch=0x" + Hex(vote.peer_epoch) + " " +
             StateName(vote.state);
      return out;
    case MsgType::kFollowerInfo:
    case MsgType::kObserverInfo:
      out += " acceptedEpoch=0x" + Hex(epoch) + " zxid=" + ZxidHex(zxid);
      break;
    case MsgType::kAckEpoch:
      out += " currentEpoch=0x" + Hex(epoch) + " zxid=" + ZxidHex(zxid);
      break;
    case MsgType::kLeaderInfo:
    case MsgType::kNewLeader:
      out += " epoch=0x" + Hex(epoch);
      if (type == MsgType::kNewLeader) out += " zxid=" + ZxidHex(zxid);
      break;
    case MsgType::kAck:
    case MsgType::kDiff:
    case MsgType::kTrunc:
    case MsgType::kCommit:
      out += " " + ZxidHex(zxid);
      break;
    case MsgType::kSnap:
      out += " " + ZxidHex(snapshot.zxid) + " (" + std::to_string(snapshot.data.size()) + " bytes)";
      break;
    case MsgType::kProposal:
    case MsgType::kInform:
    case MsgType::kRequest:
      out += " " + TxnString(txn);
      break;
    case MsgType::kUpToDate:
      out += " commit=" + ZxidHex(commit);
      break;
    case MsgType::kSync:
      out += " request=" + std::to_string(request) + " zxid=" + ZxidHex(zxid);
      break;
    case MsgType::kPing:
      out += " commit=" + ZxidHex(commit) + " zxid=" + ZxidHex(zxid);
      break;
    case MsgType::kLinkDown:
      break;
  }
  // Only when there are any, so traces without session touches read as they always did.
  if (!sessions.empty()) {
    out += " sessions=[";
    for (size_t i = 0; i < sessions.size(); ++i) out += (i ? ",0x" : "0x") + Hex(sessions[i]);
    out += "]";
  }
  return out;
}

}  // namespace faultline::zab

#include "checks/hdfs_znodes.h"

#include <cstdio>
#include <sstream>

#include "checks/zk_protobuf.h"

namespace faultline {

std::string EncodeActiveNodeInfo(const ActiveNodeInfo& info) {
  std::string out;
  pb::PutBytesField(&out, 1, info.nameservice_id);
  pb::PutBytesField(&out, 2, info.namenode_id);
  pb::PutBytesField(&out, 3, info.hostname);
  // int32 fields are varints; negative values would take ten bytes, as protobuf does.
  pb::PutVarintField(&out, 4, static_cast<uint64_t>(static_cast<int64_t>(info.port)));
  pb::PutVarintField(&out, 5, static_cast<uint64_t>(static_cast<int64_t>(info.zkfc_port)));
  return out;
}

Status DecodeActiveNodeInfo(const std::string& bytes, ActiveNodeInfo* out) {
  pb::Fields f;
  if (!pb::Parse(bytes, &f)) return Status::Invalid("ActiveNodeInfo: not a protobuf message");
  for (int required : {1, 2, 3, 4, 5}) {
    if (!f.Has(required)) {
      return Status::Invalid("ActiveNodeInfo: required field " + std::to_string(required) + " missing");
    }
  }
  out->nameservice_id = f.Bytes(1);
  out->namenode_id = f.Bytes(2);
  out->hostname = f.Bytes(3);
  out->port = static_cast<int>(static_cast<int64_t>(f.Varint(4)));
  out->zkfc_port = static_cast<int>(static_cast<int64_t>(f.Varint(5)));
  return Status::Ok();
}

std::string EncodeActiveRmInfo(const ActiveRmInfo& info) {
  std::string out;
  pb::PutBytesField(&out, 1, info.cluster_id);
  pb::PutBytesField(&out, 2, info.rm_id);
  return out;
}

Status DecodeActiveRmInfo(const std::string& bytes, ActiveRmInfo* out) {
  pb::Fields f;
  if (!pb::Parse(bytes, &f)) return Status::Invalid("ActiveRMInfoProto: not a protobuf message");
  if (!f.Has(2)) return Status::Invalid("ActiveRMInfoProto: rmId missing");
  out->cluster_id = f.Bytes(1);
  out->rm_id = f.Bytes(2);
  return Status::Ok();
}

std::string HdfsElectorDir(const std::string& nameservice) { return "/hadoop-ha/" + nameservice; }
std::string YarnElectorDir(const std::string& cluster_id) {
  return "/yarn-leader-election/" + cluster_id;
}

std::string FormatHaServiceState(const HaServiceState& s) {
  std::string state = s.state == "unreachable" ? "Failed to connect: " + s.detail : s.state;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-50s %-10s", s.address.c_str(), state.c_str());
  return buf;
}

std::vector<HaServiceState> ParseHaAdminAllServiceState(const std::string& text) {
  std::vector<HaServiceState> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string address, rest;
    if (!(words >> address)) continue;
    // An address has a port; log lines ("2024-01-01 WARN ...") do not.
    auto colon = address.rfind(':');
    if (colon == std::string::npos || colon + 1 >= address.size() ||
        address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      continue;
    }
    std::getline(words, rest);
    auto start = rest.find_first_not_of(' ');
    rest = start == std::string::npos ? "" : rest.substr(start);
    while (!rest.empty() && rest.back() == ' ') rest.pop_back();
    if (rest.empty()) continue;
    HaServiceState s;
    s.address = address;
    if (rest.rfind("Failed to connect", 0) == 0) {
      s.state = "unreachable";
      s.detail = rest;
    } else {
      s.state = rest;
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace faultline

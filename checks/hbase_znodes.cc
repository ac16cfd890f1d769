#include "checks/hbase_znodes.h"

#include "checks/zk_protobuf.h"

namespace faultline {
namespace {

constexpr char kPbMagic[] = "PBUF";

std::string Envelope(const std::string& id, const std::string& message) {
  std::string out;
  out.push_back(static_cast<char>(0xFF));
  uint32_t n = static_cast<uint32_t>(id.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += id;
  out += kPbMagic;
  out += message;
  return out;
}

std::string EncodeServerName(const ServerName& sn) {
  std::string out;
  pb::PutBytesField(&out, 1, sn.host);
  pb::PutVarintField(&out, 2, static_cast<uint64_t>(sn.port));
  pb::PutVarintField(&out, 3, sn.start_code);
  return out;
}

}  // namespace

std::string ServerName::ToString() const {
  return host + "," + std::to_string(port) + "," + std::to_string(start_code);
}

bool ServerName::Parse(const std::string& text, ServerName* out) {
  auto a = text.find(',');
  auto b = text.rfind(',');
  if (a == std::string::npos || a == b || a == 0) return false;
  try {
    size_t used = 0;
    out->host = text.substr(0, a);
    std::string port = text.substr(a + 1, b - a - 1);
    out->port = std::stoi(port, &used);
    if (used != port.size()) return false;
    std::string code = text.substr(b + 1);
    out->start_code = std::stoull(code, &used);
    return used == code.size();
  } catch (...) {
    return false;
  }
}

Status StripHBaseEnvelope(const std::string& bytes, std::string* message) {
  size_t pos = 0;
  if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0xFF) {
    if (bytes.size() < 5) return Status::Invalid("hbase znode: metadata block truncated");
    uint32_t n = 0;
    for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
    if (n > bytes.size() - 5) return Status::Invalid("hbase znode: metadata id longer than the data");
    pos = 5 + n;
  }
  if (bytes.compare(pos, 4, kPbMagic) != 0) {
    return Status::Invalid("hbase znode: expected the PBUF magic at byte " + std::to_string(pos));
  }
  *message = bytes.substr(pos + 4);
  return Status::Ok();
}

std::string EncodeHBaseMaster(const ServerName& sn, int info_port, const std::string& id) {
  std::string msg;
  pb::PutBytesField(&msg, 1, EncodeServerName(sn));
  pb::PutVarintField(&msg, 2, 0);
  pb::PutVarintField(&msg, 3, static_cast<uint64_t>(info_port));
  return Envelope(id, msg);
}

Status DecodeHBaseMaster(const std::string& bytes, ServerName* sn, int* info_port) {
  std::string msg;
  FAULTLINE_RETURN_IF_ERROR(StripHBaseEnvelope(bytes, &msg));
  pb::Fields master;
  if (!pb::Parse(msg, &master) || !master.bytes.count(1)) {
    return Status::Invalid("hbase master znode: no ServerName in the Master message");
  }
  pb::Fields server;
  if (!pb::Parse(master.Bytes(1), &server) || !server.bytes.count(1)) {
    return Status::Invalid("hbase master znode: ServerName has no host_name");
  }
  sn->host = server.Bytes(1);
  sn->port = static_cast<int>(server.Varint(2));
  sn->start_code = server.Varint(3);
  if (info_port) *info_port = static_cast<int>(master.Varint(3));
  return Status::Ok();
}

std::string EncodeHBaseRegionServer(int info_port, const std::string& id) {
  std::string msg;
  pb::PutVarintField(&msg, 1, static_cast<uint64_t>(info_port));
  return Envelope(id, msg);
}

nlohmann::json RegionAssignment::ToJson() const {
  return {{"region", region}, {"table", table}, {"start_key", start_key}, {"server", server},
          {"state", state}};
}

bool RegionAssignment::FromJson(const std::string& text, RegionAssignment* out) try {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  out->region = j.value("region", "");
  out->table = j.value("table", "");
  out->start_key = j.value("start_key", "");
  out->server = j.value("server", "");
  out->state = j.value("state", "");
  return !out->region.empty();
} catch (const nlohmann::json::exception&) {
  return false;
}

std::string HBaseAssignmentDir(const std::string& parent) { return parent + "/faultline-assignment"; }

}  // namespace faultline

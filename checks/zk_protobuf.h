// The few protobuf wire-format pieces the coordination znodes need (varints, strings,
// nested messages), written by hand: Hadoop's ActiveNodeInfo and HBase's ServerName are
// small messages, and a protobuf dependency for five fields would cost more than it saves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::pb {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Field keys: (number << 3) | wire type; 0 = varint, 2 = length-delimited.
inline void PutVarintField(std::string* out, int field, uint64_t v) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 0);
  PutVarint(out, v);
}

inline void PutBytesField(std::string* out, int field, std::string_view bytes) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

// One decoded message: each field number maps to its values in order (varints as
// numbers, length-delimited fields as raw bytes). Fixed32/64 fields are skipped.
struct Fields {
  std::map<int, std::vector<uint64_t>> varints;
  std::map<int, std::vector<std::string>> bytes;

  bool Has(int f) const { return varints.count(f) || bytes.count(f); }
  uint64_t Varint(int f, uint64_t fallback = 0) const {
    auto it = varints.find(f);
    return it == varints.end() || it->second.empty() ? fallback : it->second.front();
  }
  std::string Bytes(int f) const {
    auto it = bytes.find(f);
    return it == bytes.end() || it->second.empty() ? std::string() : it->second.front();
  }
};

inline bool GetVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// False when the bytes are not a well-formed message.
inline bool Parse(std::string_view in, Fields* out) {
  size_t pos = 0;
  while (pos < in.size()) {
    uint64_t key;
    if (!GetVarint(in, &pos, &key)) return false;
    int field = static_cast<int>(key >> 3);
    int type = static_cast<int>(key & 7);
    if (field <= 0) return false;
    if (type == 0) {
      uint64_t v;
      if (!GetVarint(in, &pos, &v)) return false;
      out->varints[field].push_back(v);
    } else if (type == 2) {
      uint64_t len;
      if (!GetVarint(in, &pos, &len) || len > in.size() - pos) return false;
      out->bytes[field].emplace_back(in.substr(pos, len));
      pos += len;
    } else if (type == 1) {
      if (in.size() - pos < 8) return false;
      pos += 8;
    } else if (type == 5) {
      if (in.size() - pos < 4) return false;
      pos += 4;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace faultline::pb

#include "coord/jute.h"

namespace faultline::coord {

void JuteWriter::Int(int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
               static_cast<char>(u)};
  out_->append(b, 4);
}

void JuteWriter::Long(int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (56 - 8 * i));
  out_->append(b, 8);
}

void JuteWriter::Buffer(std::string_view bytes) {
  Int(static_cast<int32_t>(bytes.size()));
  out_->append(bytes);
}

void JuteWriter::StringVector(const std::vector<std::string>& v) {
  Int(static_cast<int32_t>(v.size()));
  for (const auto& s : v) String(s);
}

void JuteWriter::PatchInt(size_t offset, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  (*out_)[offset] = static_cast<char>(u >> 24);
  (*out_)[offset + 1] = static_cast<char>(u >> 16);
  (*out_)[offset + 2] = static_cast<char>(u >> 8);
  (*out_)[offset + 3] = static_cast<char>(u);
}

bool JuteReader::Need(size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

int32_t JuteReader::Int() {
  if (!Need(4)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
  pos_ += 4;
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

int64_t JuteReader::Long() {
  if (!Need(8)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
  pos_ += 8;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
  return static_cast<int64_t>(u);
}

bool JuteReader::Bool() {
  if (!Need(1)) return false;
  return in_[pos_++] != 0;
}

std::string JuteReader::Buffer() { return std::string(BufferView()); }

std::string_view JuteReader::BufferView() {
  int32_t len = Int();
  if (!ok_ || len == -1) return {};
  if (len < 0 || !Need(static_cast<size_t>(len))) {
    ok_ = false;
    return {};
  }
  std::string_view out = in_.substr(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return out;
}

int32_t JuteReader::Count(size_t min_elem_bytes) {
  int32_t n = Int();
  if (!ok_) return 0;
  if (n == -1) return 0;
  if (n < 0 || static_cast<size_t>(n) * min_elem_bytes > in_.size() - pos_) {
    ok_ = false;
    return 0;
  }
  return n;
}

std::vector<std::string> JuteReader::StringVector() {
  std::vector<std::string> out;
  int32_t n = Count(4);
  out.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n && ok_; ++i) out.push_back(String());
  if (!ok_) out.clear();
  return out;
}

}  // namespace faultline::coord

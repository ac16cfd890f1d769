// Jute, ZooKeeper's record encoding: big-endian ints and longs, booleans as one byte,
// buffers and strings as an int length (-1 for null) followed by the bytes, vectors as an
// int count followed by the elements. The reader never trusts a length field: every read
// is checked against what is left, so a hostile packet cannot make it allocate or overrun.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::coord {

// Writes into a growing byte string. Not thread-safe; cheap to create.
class JuteWriter {
 public:
  JuteWriter() = default;
  explicit JuteWriter(std::string* out) : out_(out) {}

  void Int(int32_t v);
  void Long(int64_t v);
  void Bool(bool v) { out_->push_back(v ? 1 : 0); }
  void Buffer(std::string_view bytes);
  void NullBuffer() { Int(-1); }
  void String(std::string_view s) { Buffer(s); }
  void Raw(std::string_view bytes) { out_->append(bytes); }
  void StringVector(const std::vector<std::string>& v);

  // Overwrites 4 bytes at offset (used to fill a length prefix once the body is known).
  void PatchInt(size_t offset, int32_t v);
  size_t size() const { return out_->size(); }
  std::string& bytes() { return *out_; }

 private:
  std::string own_;
  std::string* out_ = &own_;
};

// Reads from a byte view it does not own. After the first failed read every later read
// fails too and ok() is false, so decoders can read a whole record and check once.
class JuteReader {
 public:
  explicit JuteReader(std::string_view in) : in_(in) {}

  int32_t Int();
  int64_t Long();
  bool Bool();
  // A null buffer (-1) reads as empty; the distinction does not matter to quorumd.
  std::string Buffer();
  std::string String() { return Buffer(); }
  // As Buffer, without the copy: a view into the input.
  std::string_view BufferView();
  // Vector counts are bounded by the bytes left, since each element takes at least 4.
  std::vector<std::string> StringVector();
  // Reads a count for a vector whose elements take at least min_elem_bytes each; -1 (null)
  // reads as 0. Fails on a count that cannot fit in what is left.
  int32_t Count(size_t min_elem_bytes);

  bool ok() const { return ok_; }
  void Fail() { ok_ = false; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  size_t position() const { return pos_; }
  std::string_view Rest() const { return ok_ ? in_.substr(pos_) : std::string_view(); }

 private:
  bool Need(size_t n);
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace faultline::coord

// Any bytes from a peer: decoding must not crash, and what decodes must encode back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "coord/zab/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  faultline::zab::Message msg;
  if (faultline::zab::DecodeMessage(in, &msg).ok()) {
    if (faultline::zab::EncodeMessage(msg) != in) std::abort();
  }
  return 0;
}

// The wire form of a Message between ensemble members: big-endian fields in a fixed order,
// framed by the transport with a 4-byte length. Decoding never trusts the input: every read is
// bounds-checked and a malformed frame comes back as Status::Invalid saying where it broke.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "coord/zab/message.h"

namespace faultline::zab {

// Frames larger than this are refused on both sides (a snapshot of a lab-sized tree fits).
constexpr size_t kMaxFrameBytes = 64u << 20;

std::string EncodeMessage(const Message& msg);
// REQUIRES: out != nullptr.
Status DecodeMessage(std::string_view bytes, Message* out);

}  // namespace faultline::zab

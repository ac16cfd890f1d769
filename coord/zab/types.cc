#include "coord/zab/types.h"

#include <cstdio>

namespace faultline::zab {

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string ZxidHex(Zxid zxid) { return "0x" + Hex(zxid); }

const char* StateName(ServerState state) {
  switch (state) {
    case ServerState::kLooking: return "LOOKING";
    case ServerState::kFollowing: return "FOLLOWING";
    case ServerState::kLeading: return "LEADING";
    case ServerState::kObserving: return "OBSERVING";
  }
  return "UNKNOWN";
}

}  // namespace faultline::zab

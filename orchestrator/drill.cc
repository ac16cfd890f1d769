#include "orchestrator/drill.h"

namespace faultline {

std::string ProbeSpec::Key() const {
  if (!params.is_object() || params.empty()) return name;
  std::string out = name + "{";
  bool first = true;
  for (const auto& [k, v] : params.items()) {  // nlohmann keeps objects sorted by key
    if (!first) out += ",";
    first = false;
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out + "}";
}

}  // namespace faultline

#include "orchestrator/host_vars.h"

#include <string>

namespace faultline {
namespace {

constexpr std::string_view kOpen = "${host.";

Status Lookup(const nlohmann::json& vars, const std::string& dotted, nlohmann::json* out) {
  const nlohmann::json* at = &vars;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty() || !at->is_object() || !at->contains(key)) {
      return Status::Invalid("${host." + dotted + "}: the host has no inventory variable '" + dotted + "'");
    }
    at = &(*at)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *out = *at;
  return Status::Ok();
}

std::string AsText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

Status ExpandString(nlohmann::json* value, const nlohmann::json& vars) {
  const std::string text = value->get<std::string>();
  if (text.find(kOpen) == std::string::npos) return Status::Ok();
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find(kOpen, pos);
    if (open == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    size_t close = text.find('}', open);
    if (close == std::string::npos) return Status::Invalid("'" + text + "': '${host.' without a closing '}'");
    out += text.substr(pos, open - pos);
    nlohmann::json found;
    FAULTLINE_RETURN_IF_ERROR(Lookup(vars, text.substr(open + kOpen.size(), close - open - kOpen.size()), &found));
    if (open == 0 && close + 1 == text.size()) {
      *value = found;  // the whole string is one reference: keep the variable's type
      return Status::Ok();
    }
    out += AsText(found);
    pos = close + 1;
  }
  *value = out;
  return Status::Ok();
}

}  // namespace

Status ExpandHostVars(nlohmann::json* params, const nlohmann::json& host_vars) {
  if (params->is_string()) return ExpandString(params, host_vars);
  if (params->is_array() || params->is_object()) {
    for (auto& item : *params) FAULTLINE_RETURN_IF_ERROR(ExpandHostVars(&item, host_vars));
  }
  return Status::Ok();
}

}  // namespace faultline

#include "orchestrator/host_vars.h"

#include <arpa/inet.h>
#include <netdb.h>

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

namespace {

bool IsIpv4OrCidr(const std::string& s) {
  std::string addr = s.substr(0, s.find('/'));
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1) return false;
  if (addr.size() == s.size()) return true;
  const std::string bits = s.substr(addr.size() + 1);
  return !bits.empty() && bits.size() <= 2 && bits.find_first_not_of("0123456789") == std::string::npos &&
         std::stoi(bits) <= 32;
}

Status AddressOf(const InventoryHost& h, std::string* out) {
  const std::string a = h.address();
  if (IsIpv4OrCidr(a)) {
    *out = a;
    return Status::Ok();
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  if (getaddrinfo(a.c_str(), nullptr, &hints, &res) != 0 || !res) {
    return Status::Invalid("peer " + h.name + ": its address '" + a + "' does not resolve to IPv4 here");
  }
  char buf[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
  freeaddrinfo(res);
  *out = buf;
  return Status::Ok();
}

Status ResolvePeerList(const nlohmann::json& in, const Inventory& inventory, const std::string& host,
                       nlohmann::json* out) {
  *out = nlohmann::json::array();
  std::vector<nlohmann::json> entries;
  if (in.is_array()) {
    entries.assign(in.begin(), in.end());
  } else {
    entries.push_back(in);
  }
  auto add = [out](const std::string& a) {
    for (const auto& have : *out) {
      if (have == a) return;
    }
    out->push_back(a);
  };
  for (const auto& e : entries) {
    if (!e.is_string()) return Status::Invalid("peers: expected host, group or address names, got " + e.dump());
    const std::string name = e.get<std::string>();
    if (IsIpv4OrCidr(name)) {
      add(name);
    } else if (const InventoryGroup* g = inventory.FindGroup(name)) {
      for (const auto& member : g->hosts) {
        if (member == host) continue;  // a host is not cut from itself
        std::string a;
        FAULTLINE_RETURN_IF_ERROR(AddressOf(*inventory.FindHost(member), &a));
        add(a);
      }
    } else if (const InventoryHost* h = inventory.FindHost(name)) {
      if (name == host) continue;
      std::string a;
      FAULTLINE_RETURN_IF_ERROR(AddressOf(*h, &a));
      add(a);
    } else {
      return Status::Invalid("peers: '" + name + "' is neither a host nor a group of " + inventory.path +
                             ", nor an IPv4 address or CIDR");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ResolvePeers(nlohmann::json* params, const Inventory& inventory, const std::string& host) {
  if (params->contains("grudge") && (*params)["grudge"].is_object()) {
    nlohmann::json& g = (*params)["grudge"];
    if (g.contains(host)) {
      nlohmann::json resolved;
      FAULTLINE_RETURN_IF_ERROR(ResolvePeerList(g[host], inventory, host, &resolved));
      g[host] = resolved;
    }
  }
  if (params->contains("peers")) {
    nlohmann::json resolved;
    FAULTLINE_RETURN_IF_ERROR(ResolvePeerList((*params)["peers"], inventory, host, &resolved));
    (*params)["peers"] = resolved;
  }
  return Status::Ok();
}

}  // namespace faultline

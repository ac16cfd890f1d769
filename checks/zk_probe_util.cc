#include "checks/zk_probe_util.h"

#include <cstdlib>

#include "checks/zk_admin.h"

namespace faultline {

std::string InventoryVar(const Inventory& inventory, const std::string& key, const std::string& fallback) {
  if (const InventoryGroup* all = inventory.FindGroup("all")) {
    auto it = all->vars.find(key);
    if (it != all->vars.end()) {
      if (it->is_string()) return it->get<std::string>();
      if (it->is_number()) return it->dump();
    }
  }
  for (const auto& [name, host] : inventory.hosts) {
    std::string v = host.VarString(key);
    if (!v.empty()) return v;
  }
  return fallback;
}

std::string ZkGroupFor(const ProbeSpec& spec, const Inventory& inventory) {
  std::string g = ParamString(spec, "group");
  if (!g.empty()) return g;
  return InventoryVar(inventory, "zookeeper_group", "zookeeper");
}

namespace {

// A port from a host variable: absent is `fallback`, anything but 1..65535 an error naming it.
Status PortVar(const Inventory& inventory, const InventoryHost& h, const std::string& var, int fallback, int* out) {
  std::string text = h.VarString(var, "");
  if (text.empty()) {
    *out = fallback;
    return Status::Ok();
  }
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || v < 1 || v > 65535) {
    return Status::Invalid("inventory " + inventory.path + ": host " + h.name + ": " + var + " '" + text +
                           "' is not a port (1-65535)");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

}  // namespace

Status ZkServersOf(const Inventory& inventory, const std::string& group, std::vector<ZkServer>* out) {
  const InventoryGroup* g = inventory.FindGroup(group);
  if (!g || g->hosts.empty()) {
    return Status::Invalid("inventory " + inventory.path + ": no hosts in group '" + group +
                           "' (the ZooKeeper servers; set zookeeper_group to name another group)");
  }
  out->clear();
  for (const auto& name : g->hosts) {
    const InventoryHost* h = inventory.FindHost(name);
    if (!h) continue;
    ZkServer s;
    s.host = name;
    s.address = h->address();
    FAULTLINE_RETURN_IF_ERROR(PortVar(inventory, *h, "zookeeper_client_port", 2181, &s.port));
    int admin_port = 8080;
    FAULTLINE_RETURN_IF_ERROR(PortVar(inventory, *h, "zookeeper_admin_port", 8080, &admin_port));
    std::string url = h->VarString("zookeeper_admin_url", "");
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!url.empty() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return Status::Invalid("inventory " + inventory.path + ": host " + name + ": zookeeper_admin_url '" + url +
                             "' is not an http:// or https:// URL (the AdminServer's base, e.g. "
                             "https://zk1.example.com:8080/commands)");
    }
    s.admin_first = !url.empty();
    s.admin_url = url.empty() ? ZkAdminBaseUrl(s.address, admin_port) : url;
    s.admin_ca_file = h->VarString("zookeeper_admin_ca_file", "");
    out->push_back(s);
  }
  return Status::Ok();
}

std::string ZkConnectString(const Inventory& inventory, const std::vector<ZkServer>& servers) {
  std::string explicit_connect = InventoryVar(inventory, "zookeeper_connect");
  if (!explicit_connect.empty()) return explicit_connect;
  std::string out;
  for (const auto& s : servers) {
    if (!out.empty()) out += ",";
    out += s.address + ":" + std::to_string(s.port);
  }
  return out;
}

Status ParseZkConnect(const std::string& text, std::string* hosts, std::string* chroot) {
  auto slash = text.find('/');
  *hosts = text.substr(0, slash);
  *chroot = slash == std::string::npos ? "" : text.substr(slash);
  if (*chroot == "/") chroot->clear();
  if (hosts->empty()) return Status::Invalid("'" + text + "' names no ZooKeeper server");
  size_t start = 0;
  while (start <= hosts->size()) {
    size_t comma = hosts->find(',', start);
    std::string entry = hosts->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (entry.empty()) return Status::Invalid("'" + text + "' has an empty server entry");
    auto colon = entry.rfind(':');
    if (colon != std::string::npos && entry.find(']', colon) == std::string::npos) {
      std::string port = entry.substr(colon + 1);
      char* end = nullptr;
      long v = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || v < 1 || v > 65535 || colon == 0) {
        return Status::Invalid("'" + text + "': server '" + entry + "' is not host:port (port 1-65535)");
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (!chroot->empty()) {
    if (chroot->back() == '/') return Status::Invalid("'" + text + "': chroot '" + *chroot + "' ends with '/'");
    size_t pos = 1;
    while (pos <= chroot->size()) {
      size_t next = chroot->find('/', pos);
      std::string seg = chroot->substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      if (seg.empty() || seg == "." || seg == "..") {
        return Status::Invalid("'" + text + "': chroot '" + *chroot + "' has an empty, '.' or '..' segment");
      }
      if (seg.find('\0') != std::string::npos) {
        return Status::Invalid("'" + text + "': chroot '" + *chroot + "' holds a null character");
      }
      if (next == std::string::npos) break;
      pos = next + 1;
    }
  }
  return Status::Ok();
}

Status CheckParams(const ProbeSpec& spec, const std::set<std::string>& allowed,
                   const std::set<std::string>& required) {
  std::string where = spec.mark.ToString();
  where = where.empty() ? "probe " + spec.name : where + ": probe " + spec.name;
  if (!spec.params.is_null() && !spec.params.is_object()) {
    return Status::Invalid(where + ": parameters must be a mapping");
  }
  for (const auto& [key, value] : spec.params.items()) {
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Status::Invalid(where + ": unknown parameter '" + key + "' (expected " +
                             (list.empty() ? "no parameters" : "one of: " + list) + ")");
    }
  }
  for (const auto& r : required) {
    if (!spec.params.contains(r)) return Status::Invalid(where + ": parameter '" + r + "' is required");
  }
  return Status::Ok();
}

std::string ParamString(const ProbeSpec& spec, const std::string& key, const std::string& fallback) {
  if (!spec.params.is_object()) return fallback;
  auto it = spec.params.find(key);
  if (it == spec.params.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return fallback;
}

ZkClient* ZnodeSession::Reader(std::chrono::milliseconds timeout, Status* why) {
  if (client_) {
    ZkSessionState st = client_->state();
    if (st == ZkSessionState::kConnected) return client_.get();
    if (st != ZkSessionState::kExpired && st != ZkSessionState::kClosed &&
        client_->WaitConnected(timeout)) {
      return client_.get();
    }
    if (st == ZkSessionState::kExpired || st == ZkSessionState::kClosed) client_.reset();
    else {
      *why = Status::Unavailable("zookeeper " + connect_ + ": not connected (" +
                                 ZkSessionStateName(client_->state()) + ")");
      return nullptr;
    }
  }
  ZkClient::Options o;
  o.connect = connect_;
  o.session_timeout = std::chrono::milliseconds(10000);
  client_ = std::make_unique<ZkClient>(o);
  Status st = client_->Connect(timeout);
  if (!st.ok()) {
    *why = st;
    return nullptr;
  }
  return client_.get();
}

std::string HostByVar(const Inventory& inventory, const std::string& var, const std::string& value,
                      const std::string& fallback_host) {
  if (!value.empty()) {
    for (const auto& [name, host] : inventory.hosts) {
      if (host.VarString(var) == value) return name;
    }
  }
  if (!fallback_host.empty()) {
    for (const auto& [name, host] : inventory.hosts) {
      if (name == fallback_host || host.address() == fallback_host) return name;
    }
  }
  return "";
}

}  // namespace faultline

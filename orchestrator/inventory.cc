#include "orchestrator/inventory.h"

#include <algorithm>

namespace faultline {
namespace {

const nlohmann::json* Var(const nlohmann::json& vars, const std::string& key) {
  if (!vars.is_object()) return nullptr;
  auto it = vars.find(key);
  return it == vars.end() ? nullptr : &*it;
}

}  // namespace

std::string InventoryHost::VarString(const std::string& key, const std::string& fallback) const {
  const nlohmann::json* v = Var(vars, key);
  if (!v) return fallback;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<long long>());
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return fallback;
}

std::string InventoryHost::address() const { return VarString("ansible_host", name); }

int InventoryHost::port() const {
  std::string p = VarString("ansible_port", "22");
  try {
    return std::stoi(p);
  } catch (...) {
    return 22;
  }
}

std::string InventoryHost::user() const { return VarString("ansible_user", "root"); }

std::string InventoryHost::key_file() const { return VarString("ansible_ssh_private_key_file"); }

std::string InventoryHost::transport() const {
  std::string t = VarString("faultline_transport");
  if (!t.empty()) return t;
  return VarString("ansible_connection") == "local" ? "local" : "ssh";
}

bool InventoryHost::InGroup(const std::string& group) const {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

const InventoryHost* Inventory::FindHost(const std::string& name) const {
  auto it = hosts.find(name);
  return it == hosts.end() ? nullptr : &it->second;
}

const InventoryGroup* Inventory::FindGroup(const std::string& name) const {
  auto it = groups.find(name);
  return it == groups.end() ? nullptr : &it->second;
}

std::string Inventory::name() const {
  if (const InventoryGroup* all = FindGroup("all")) {
    if (const nlohmann::json* v = Var(all->vars, "faultline_name"); v && v->is_string()) {
      return v->get<std::string>();
    }
  }
  std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  return base.substr(0, base.find('.'));
}

bool Inventory::production() const {
  if (const InventoryGroup* all = FindGroup("all")) {
    if (const nlohmann::json* v = Var(all->vars, "faultline_production")) {
      return (v->is_boolean() && v->get<bool>()) || (v->is_string() && *v == "true");
    }
  }
  return false;
}

}  // namespace faultline

#include "checks/probe.h"

namespace faultline {

ProbeRegistry& ProbeRegistry::Global() {
  static ProbeRegistry* registry = new ProbeRegistry();
  return *registry;
}

void ProbeRegistry::Register(ProbeInfo info, ProbeMaker make) {
  std::string name = info.name;
  entries_[name] = Entry{std::move(info), std::move(make)};
}

const ProbeInfo* ProbeRegistry::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second.info;
}

std::vector<std::string> ProbeRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

Status ProbeRegistry::Make(const ProbeSpec& spec, const Inventory& inventory,
                           std::unique_ptr<Probe>* out) const {
  auto it = entries_.find(spec.name);
  if (it == entries_.end()) {
    return Status::Invalid(spec.mark.ToString() + ": unknown probe '" + spec.name + "'");
  }
  return it->second.make(spec, inventory, out);
}

}  // namespace faultline

#include <mutex>

#include "faults/fault.h"
#include "orchestrator/inventory.h"

namespace faultline {

FaultCatalogue& FaultCatalogue::Global() {
  static FaultCatalogue* catalogue = new FaultCatalogue();
  return *catalogue;
}

void FaultCatalogue::Register(FaultActionInfo info,
                              std::function<std::unique_ptr<FaultDriver>()> make_driver) {
  std::string name = info.name;
  entries_[name] = Entry{std::move(info), std::move(make_driver)};
}

const FaultActionInfo* FaultCatalogue::Find(const std::string& action) const {
  auto it = entries_.find(action);
  return it == entries_.end() ? nullptr : &it->second.info;
}

std::vector<std::string> FaultCatalogue::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

std::unique_ptr<FaultDriver> FaultCatalogue::MakeDriver(const std::string& action) const {
  auto it = entries_.find(action);
  if (it == entries_.end() || !it->second.make) return nullptr;
  return it->second.make();
}

namespace {
std::mutex g_kinds_mu;
std::map<std::string, TransportMaker>& Kinds() {
  static auto* kinds = new std::map<std::string, TransportMaker>();
  return *kinds;
}
}  // namespace

void RegisterTransportKind(const std::string& kind, TransportMaker maker) {
  std::lock_guard<std::mutex> lock(g_kinds_mu);
  Kinds()[kind] = std::move(maker);
}

Status MakeTransport(const InventoryHost& host, const TransportOptions& options,
                     std::unique_ptr<Transport>* out) {
  TransportMaker maker;
  std::string kind = host.transport();
  {
    std::lock_guard<std::mutex> lock(g_kinds_mu);
    auto it = Kinds().find(kind);
    if (it == Kinds().end()) {
      return Status::Invalid("host " + host.name + " (" + host.mark.ToString() +
                             "): unknown transport '" + kind + "' (known: ssh, local, netns)");
    }
    maker = it->second;
  }
  return maker(host, options, out);
}

}  // namespace faultline

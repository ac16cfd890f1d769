#include "orchestrator/agent_fanout.h"

#include <atomic>
#include <thread>
#include <vector>

namespace faultline {

void ForEachHost(const Inventory& inventory, const TransportOptions& options, int parallel,
                 const std::function<void(const InventoryHost&, Transport*, const Status&)>& fn) {
  std::vector<const InventoryHost*> hosts;
  for (const auto& [name, host] : inventory.hosts) hosts.push_back(&host);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < hosts.size(); i = next++) {
      std::unique_ptr<Transport> t;
      Status st = MakeTransport(*hosts[i], options, &t);
      fn(*hosts[i], st.ok() ? t.get() : nullptr, st);
    }
  };
  std::vector<std::thread> threads;
  int n = std::max(1, std::min<int>(parallel, static_cast<int>(hosts.size())));
  for (int i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
}

}  // namespace faultline

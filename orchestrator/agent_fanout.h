// What `faultline status` and `faultline cleanup` share: the inventory's transports and a
// bounded parallel walk over its hosts.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "faults/transport.h"
#include "orchestrator/inventory.h"

namespace faultline {

// Runs fn(host, transport) for every host of the inventory, at most `parallel` at once.
// A host whose transport cannot be made gets fn(host, nullptr, status) instead.
void ForEachHost(const Inventory& inventory, const TransportOptions& options, int parallel,
                 const std::function<void(const InventoryHost&, Transport*, const Status&)>& fn);

}  // namespace faultline

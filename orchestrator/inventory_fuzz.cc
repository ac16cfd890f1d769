// libFuzzer target: any bytes read as an INI, a YAML or an undeclared inventory must yield
// a Status (and a usable Inventory when ok), never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "orchestrator/inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte chooses how the file is named, so one corpus reaches both readers and
  // the content sniffing.
  static const char* kNames[] = {"fuzz", "fuzz.ini", "fuzz.yml"};
  std::string name = kNames[data[0] % 3];
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  faultline::Inventory inv;
  if (!faultline::LoadInventoryText(text, name, &inv).ok()) return 0;
  size_t touched = 0;
  for (const auto& [n, h] : inv.hosts) {
    touched +=
        h.address().size() + h.user().size() + h.transport().size() + static_cast<size_t>(h.port());
    for (const auto& g : h.groups) {
      if (!inv.FindGroup(g)) __builtin_trap();  // a host names only groups that exist
    }
  }
  for (const auto& [n, g] : inv.groups) {
    for (const auto& h : g.hosts) {
      if (!inv.FindHost(h)) __builtin_trap();
    }
  }
  volatile size_t sink = touched + inv.name().size();
  (void)sink;
  return 0;
}

// libFuzzer target: any bytes given to the drill parser, then (when they parse) to the
// inventory check and the planner, must yield a Status, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "checks/probe.h"
#include "faults/fault.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/plan.h"
#include "orchestrator/registry.h"

namespace {

const faultline::Inventory& FuzzInventory() {
  static faultline::Inventory* inv = [] {
    auto* i = new faultline::Inventory();
    faultline::Status st = faultline::LoadInventoryText(
        "[zookeeper]\nzk[1:3]\n[zookeeper:vars]\nfaultline_quorum=true\n"
        "faultline_processes={zookeeper: {match: QuorumPeerMain}}\n[nn]\nnn1\nnn2\n",
        "fuzz.ini", i);
    if (!st.ok()) __builtin_trap();
    return i;
  }();
  return *inv;
}

void RegisterFuzzEntries() {
  using K = faultline::FaultParam::Kind;
  faultline::RegisterEverything();
  // Every parameter kind, whatever the real catalogue holds at this commit.
  faultline::FaultCatalogue::Global().Register({"fuzz.all",
                                                "every parameter kind",
                                                {{"s", K::kString, true, "", "process"},
                                                 {"d", K::kDuration, false, "", ""},
                                                 {"p", K::kPercent, false, "", ""},
                                                 {"b", K::kBytes, false, "", ""},
                                                 {"i", K::kInt, false, "", ""},
                                                 {"t", K::kBool, false, "", ""},
                                                 {"l", K::kStringList, false, "", "host"},
                                                 {"c", K::kCommand, false, "", ""},
                                                 {"a", K::kAny, false, "", ""}},
                                                true},
                                               nullptr);
  faultline::ProbeRegistry::Global().Register(
      {"fuzz.role", "hosts", {{"host", false, "", "host"}}, true}, nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool registered = (RegisterFuzzEntries(), true);
  (void)registered;
  std::string text(reinterpret_cast<const char*>(data), size);
  faultline::Drill drill;
  faultline::Status st = faultline::ParseDrillText(text, "fuzz.yaml", &drill);
  if (!st.ok()) return 0;
  st = faultline::CheckDrillAgainstInventory(drill, FuzzInventory());
  if (!st.ok()) return 0;
  faultline::Plan plan;
  if (faultline::BuildPlan(drill, FuzzInventory(), "fuzz", &plan).ok()) {
    volatile size_t n = faultline::FormatPlan(plan).size();
    (void)n;
  }
  return 0;
}

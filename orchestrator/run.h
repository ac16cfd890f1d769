// The run engine: one drill against one inventory, from preflight to verdicts.
//
//   preflight  every host the drill can touch answers over its transport; steady state
//              holds (within the drill's preflight_within)
//   faults     each fault injected at its offset on the hosts its target resolves to
//              (a role target from the role probe's value at that moment), reverted at
//              the end of its duration or of the fault phase
//   recovery   steady state again within recover.within of the last revert, while
//              expectation deadlines that reach past the revert are still watched
//   verdicts   every expectation judged over the sampled timeline (expect.h)
//
// Every probe the drill uses is sampled throughout, every sample_every. Every fault is
// reverted: at its end; as soon as an expectation has definitely failed (the cluster has
// shown what it does; holding the fault longer only hurts); on an interrupt (SIGINT,
// SIGTERM); on any error or exception. A revert that still fails after retries is
// recorded in Journal.leftovers and the exit code is 4.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "base/status.h"
#include "faults/transport.h"
#include "orchestrator/drill.h"
#include "orchestrator/inventory.h"
#include "orchestrator/journal.h"

namespace faultline {

class Progress;

struct RunSettings {
  std::string run_id;             // tags every fault; empty: NewRunId()
  std::string confirm;            // must equal the inventory's name when it is production
  TransportOptions transport;
  std::chrono::milliseconds sample_every{0};  // 0: the drill's own
  // When it becomes non-zero (the signal number), the run stops: faults are reverted,
  // verdicts are judged on what was seen, and RunDrill returns kCancelled.
  const std::atomic<int>* interrupt = nullptr;
  Progress* progress = nullptr;   // may be null
  // When set, diagnostics from the fault window (captures on the coordination ports, the
  // hosts' logs, the election timeline) are written under <report_dir>/diagnostics/ and
  // attached to the journal (orchestrator/diagnostics.h).
  std::string report_dir;
};

// Runs the drill and fills `journal` (always, also on failure: exit_code says how it
// ended, as in orchestrator/commands.h). Returns ok when the drill ran to its verdicts,
// whatever they are; kInvalid when it was refused (bad drill for this inventory,
// production without --confirm: nothing was touched); kUnavailable/kTimeout for
// infrastructure (unreachable host, steady state never held, failed injection);
// kCancelled when interrupted. Blocks until done. Not reentrant with itself per drill.
Status RunDrill(const Drill& drill, const Inventory& inventory, const RunSettings& settings, Journal* journal);

// "20261122-043012-7f3a": time-ordered and unique enough to tag faults on shared hosts.
std::string NewRunId();

// Installs SIGINT and SIGTERM handlers that store the signal number in the returned flag
// (and nothing else: the engine notices and reverts). A third signal exits at once with
// status 130, for when a revert itself hangs.
const std::atomic<int>* InstallInterruptHandlers();

}  // namespace faultline

// Registers every fault action, probe and transport kind the binary knows. Each part
// exposes one Register* function; this is the only place that calls them, once, before
// anything parses a drill.
#pragma once

namespace faultline {
void RegisterEverything();
}  // namespace faultline

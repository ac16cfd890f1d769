// sim: runs the seeded ensemble simulation.
//
//   sim --seed N [--trace]     one run; --trace prints every delivery, fault, state change, commit
//   sim --seeds A-B            every seed in [A, B]; prints each failing seed and how to replay it
//   --harsh                    slow fsyncs and frequent crashes
//   --lying-disk               --harsh with a disk that acknowledges fsyncs it never did: must fail
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/sim/simulation.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: sim --seed N [--trace] [--harsh] [--lying-disk]\n"
               "       sim --seeds A-B [--harsh] [--lying-disk]\n"
               "--harsh: slow fsyncs (up to 30 ticks) and frequent crashes\n"
               "--lying-disk: --harsh with a disk that acknowledges fsyncs it has not done;\n"
               "              the checkers must then fail\n");
  return 2;
}

bool ParseU64(const std::string& text, uint64_t* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = std::strtoull(text.c_str(), nullptr, 10);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using faultline::sim::RunSimulation;
  using faultline::sim::SimOptions;
  bool trace = false;
  bool lying_disk = false;
  bool harsh = false;
  uint64_t first = 0, last = 0;
  bool have = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--trace") {
      trace = true;
    } else if (arg == "--lying-disk") {
      lying_disk = true;
      harsh = true;
    } else if (arg == "--harsh") {
      harsh = true;
    } else if (arg == "--seed" && i + 1 < argc) {
      if (!ParseU64(argv[++i], &first)) return Usage();
      last = first;
      have = true;
    } else if (arg == "--seeds" && i + 1 < argc) {
      std::string range = argv[++i];
      size_t dash = range.find('-');
      if (dash == std::string::npos || !ParseU64(range.substr(0, dash), &first) ||
          !ParseU64(range.substr(dash + 1), &last) || last < first) {
        std::fprintf(stderr, "sim: --seeds wants A-B with A <= B, got '%s'\n", range.c_str());
        return 2;
      }
      have = true;
    } else {
      return Usage();
    }
  }
  if (!have) return Usage();

  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  size_t acked = 0, leaders = 0;
  int64_t worst_recovery = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    SimOptions options = SimOptions::ForSeed(seed);
    if (harsh) {
      // Records stay volatile long, and servers crash often: what a lying disk would lose.
      options.max_fsync_delay = 30;
      options.crash_chance = 0.01;
    }
    options.lying_disk = lying_disk;
    options.liveness_bound = 400 + 10 * options.max_fsync_delay;
    if (trace) std::cout << "# " << options.Describe() << "\n";
    auto result = RunSimulation(options, trace ? &std::cout : nullptr);
    acked += result.acked_writes;
    leaders += result.leaders;
    worst_recovery = std::max(worst_recovery, result.recovered_after);
    if (!result.ok) {
      ++failed;
      std::cout << "seed " << seed << " FAILED (" << options.Describe() << ")\n";
      for (const auto& p : result.problems) std::cout << "  " << p << "\n";
      std::cout << "  replay: sim --seed " << seed << " --trace\n";
    } else if (first == last) {
      std::cout << "seed " << seed << " ok: " << result.acked_writes << " writes acknowledged, "
                << result.committed << " committed, " << result.leaders << " leaders, recovered "
                << result.recovered_after << " ticks after the faults stopped\n";
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (first != last) {
    std::cout << (last - first + 1) << " seeds, " << failed << " failed, " << acked
              << " writes acknowledged, " << leaders << " leaders served, slowest recovery "
              << worst_recovery << " ticks, " << secs << " s\n";
  }
  return failed == 0 ? 0 : 1;
}

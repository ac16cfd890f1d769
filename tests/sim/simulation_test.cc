// A failing seed is only useful if it replays: the same seed must give the same run, event
// for event, and a different seed a different one.
#include "tests/sim/simulation.h"

#include <gtest/gtest.h>

#include <sstream>

namespace faultline::sim {
namespace {

std::string Trace(uint64_t seed) {
  std::ostringstream out;
  SimOptions options = SimOptions::ForSeed(seed);
  options.fault_ticks = 600;
  options.quiet_ticks = 500;
  SimResult r = RunSimulation(options, &out);
  EXPECT_TRUE(r.ok) << "seed " << seed << ": " << (r.problems.empty() ? "" : r.problems[0]);
  return out.str();
}

TEST(Simulation, ASeedReplaysExactly) {
  std::string first = Trace(42);
  EXPECT_GT(first.size(), 10000u);
  EXPECT_EQ(first, Trace(42));
  EXPECT_NE(first, Trace(43));
}

TEST(Simulation, WritesAreAcknowledgedAndLeadersServe) {
  SimResult r = RunSimulation(SimOptions::ForSeed(7), nullptr);
  ASSERT_TRUE(r.ok) << r.problems[0];
  EXPECT_GT(r.acked_writes, 100u);
  EXPECT_GE(r.leaders, 1u);
  EXPECT_GE(r.recovered_after, 0);
}

}  // namespace
}  // namespace faultline::sim

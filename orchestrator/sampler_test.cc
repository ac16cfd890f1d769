#include "orchestrator/sampler.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace faultline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class NullContext : public ProbeContext {
 public:
  const Inventory& inventory() const override { return inv_; }
  Transport* TransportFor(const std::string&) override { return nullptr; }
  double NowMs() const override { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }
  double StartedAtEpoch() const override { return 0; }
  Inventory inv_;
  Clock::time_point start_ = Clock::now();
};

// Counts its samples; the n-th returns n.
class Counter : public Probe {
 public:
  Observation Sample(ProbeContext&, std::chrono::milliseconds) override { return Observation::Value(++n); }
  std::atomic<int> n{0};
};

// Blocks until released: a probe that hangs on a dead host.
class Stuck : public Probe {
 public:
  Observation Sample(ProbeContext&, std::chrono::milliseconds) override {
    while (!release) std::this_thread::sleep_for(1ms);
    return Observation::Unreachable("gave up");
  }
  std::atomic<bool> release{false};
};

class Thrower : public Probe {
 public:
  Observation Sample(ProbeContext&, std::chrono::milliseconds) override { throw std::runtime_error("boom"); }
};

// A role probe: leader moves from zk1 to zk2 at the third sample.
class Leader : public Probe {
 public:
  Observation Sample(ProbeContext&, std::chrono::milliseconds) override {
    ++n;
    Observation o = Observation::Value(n < 3 ? "zk1" : "zk2");
    o.roles = {{"zk1", n < 3 ? "leader" : "follower"}, {"zk2", n < 3 ? "follower" : "leader"}};
    return o;
  }
  int n = 0;
};

TEST(Sampler, ProbesRunConcurrentlyAndAStuckOneDelaysOnlyItself) {
  NullContext ctx;
  Sampler s(&ctx, 10ms, [&] { return ctx.NowMs(); });
  auto counter = std::make_unique<Counter>();
  auto stuck = std::make_unique<Stuck>();
  Counter* c = counter.get();
  Stuck* k = stuck.get();
  s.Add("count", std::move(counter));
  s.Add("stuck", std::move(stuck));
  s.Start();
  auto until = Clock::now() + 5s;
  while (c->n < 5 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  EXPECT_GE(c->n.load(), 5);
  EXPECT_TRUE(s.Samples("stuck").empty());
  EXPECT_EQ(s.CoveredUntil(), 0);  // coverage waits for the slowest probe
  k->release = true;
  s.Stop();
  auto samples = s.Samples("count");
  ASSERT_GE(samples.size(), 5u);
  for (size_t i = 1; i < samples.size(); ++i) {
    EXPECT_GE(samples[i].t_ms, samples[i - 1].t_ms);  // monotonic
    EXPECT_EQ(samples[i].value, static_cast<int>(i) + 1);
  }
  ASSERT_FALSE(s.Samples("stuck").empty());
  EXPECT_TRUE(s.Samples("stuck")[0].unreachable);
}

TEST(Sampler, AThrowingProbeBecomesAnUnreachableSample) {
  NullContext ctx;
  Sampler s(&ctx, 10ms, [&] { return ctx.NowMs(); });
  s.Add("bad", std::make_unique<Thrower>());
  s.Start();
  auto until = Clock::now() + 5s;
  while (s.Samples("bad").size() < 2 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  s.Stop();
  auto samples = s.Samples("bad");
  ASSERT_GE(samples.size(), 2u);
  EXPECT_TRUE(samples[0].unreachable);
  EXPECT_EQ(samples[0].error, "probe failed: boom");
}

TEST(Sampler, RoleChangesAreRecordedOncePerChange) {
  NullContext ctx;
  Sampler s(&ctx, 10ms, [&] { return ctx.NowMs(); });
  s.Add("zk.leader", std::make_unique<Leader>());
  s.Start();
  auto until = Clock::now() + 5s;
  while (s.Samples("zk.leader").size() < 5 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  s.Stop();
  std::vector<JournalSample> samples;
  std::vector<JournalRole> roles;
  s.Export(&samples, &roles);
  ASSERT_EQ(roles.size(), 4u);  // zk1 leader, zk2 follower, then each flips once
  EXPECT_EQ(roles[0].host, "zk1");
  EXPECT_EQ(roles[0].role, "leader");
  EXPECT_EQ(roles[2].host, "zk1");
  EXPECT_EQ(roles[2].role, "follower");
  EXPECT_EQ(roles[3].host, "zk2");
  EXPECT_EQ(roles[3].role, "leader");
  EXPECT_GE(samples.size(), 5u);
  EXPECT_EQ(samples[0].probe, "zk.leader");
}

}  // namespace
}  // namespace faultline

// The seeded simulation: one seed decides every message delay, loss, duplicate and reordering,
// every partition (symmetric or one-way) and when it heals, every crash (losing what was not
// fsynced) and restart, and every client write. The same seed replays the same run, tick by tick.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace faultline::sim {

// The whole fault model in one place, as tigerbeetle's packet simulator keeps it.
struct SimOptions {
  uint64_t seed = 1;
  int voters = 3;
  int observers = 0;

  int64_t fault_ticks = 1500;   // faults happen in [0, fault_ticks)
  int64_t quiet_ticks = 700;    // then the network is clean and every server is up
  int64_t drain_ticks = 150;    // the last ticks take no new writes, so followers can catch up
  // Ticks after the faults stop by which a write must succeed: time for a follower to notice
  // (syncLimit), an election with backed-off notifications, a sync, all slowed by the disk.
  int64_t liveness_bound = 400;

  double loss = 0.02;
  double duplicate = 0.02;
  int min_delay = 1;
  int max_delay = 4;
  double partition_chance = 0.004;  // per tick, while no partition holds
  double heal_chance = 0.01;        // per tick, while one holds
  double crash_chance = 0.002;      // per tick
  double restart_chance = 0.02;     // per tick, per crashed server
  double write_chance = 0.3;        // per tick
  int max_fsync_delay = 3;          // ticks between a Ready and its records being durable
  int compact_every = 25;           // applied transactions between snapshots
  bool lying_disk = false;          // a broken disk (see SimNode): for proving the checkers work

  // Derives a varied fault model from the seed alone, so `sim --seed N` needs nothing else.
  static SimOptions ForSeed(uint64_t seed);
  std::string Describe() const;
};

struct SimResult {
  bool ok = true;
  std::vector<std::string> problems;
  size_t acked_writes = 0;
  size_t committed = 0;        // the longest committed history
  size_t leaders = 0;          // leaders that started serving
  int64_t recovered_after = -1;  // ticks from the last fault to the first new write acknowledged
};

// trace: when not null, every delivery, loss, fault, state change and commit, one per line.
SimResult RunSimulation(const SimOptions& options, std::ostream* trace);

}  // namespace faultline::sim

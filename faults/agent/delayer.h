// The NFQUEUE delayer: network.delay and network.loss in user space, for kernels without
// sch_netem. iptables sends the selected packets to one queue; this loop holds each for
// latency ± jitter (correlated like netem's), drops `loss` of them, and gives every other
// packet its ACCEPT verdict when its time comes.
//
// It runs as its own detached process (faultline-agent delayer ...), so it outlives the
// agent; the NFQUEUE rules carry --queue-bypass, so traffic flows undelayed rather than
// stopping if it ever dies. It exits on SIGTERM (releasing every held packet first) and
// by itself once the state file no longer lists its fault.
#pragma once

#include <cstdint>
#include <string>

namespace faultline::agent {

struct DelayerOptions {
  std::string state_dir;
  std::string run;
  std::string fault;
  uint16_t queue = 0;
  uint32_t latency_us = 0;
  uint32_t jitter_us = 0;
  double correlation = 0;  // [0, 1]
  double loss = 0;         // [0, 1]
  uint64_t seed = 1;
};

// Returns the process exit code.
int RunDelayer(const DelayerOptions& options);

// The per-packet decision, apart from the netlink plumbing so it can be tested.
class DelayModel {
 public:
  DelayModel(const DelayerOptions& options);
  // Delay of the next packet in microseconds, or -1 to drop it.
  long long Next();

 private:
  uint64_t Rand();
  double Uniform() { return (Rand() >> 11) * (1.0 / 9007199254740992.0); }
  DelayerOptions o_;
  uint64_t state_;
  double last_ = 0.5;
};

}  // namespace faultline::agent

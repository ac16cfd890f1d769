// Queueing disciplines through libnl (rtnetlink): netem for delay and loss where the
// kernel has sch_netem, tbf for rate limits. Each qdisc faultline adds is the root qdisc
// of one device and carries faultline's own handle, so revert deletes exactly it and the
// kernel puts the device's default qdisc back.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

struct nl_msg;

namespace faultline::agent {

inline constexpr uint32_t kNetemHandle = 0xFA170000u;  // "fa17:"
inline constexpr uint32_t kTbfHandle = 0xFA180000u;    // "fa18:"

struct NetemSpec {
  uint32_t latency_us = 0;
  uint32_t jitter_us = 0;
  double correlation = 0;  // [0, 1]
  double loss = 0;         // [0, 1]
  uint32_t limit = 10000;  // packets the qdisc may hold
};

struct TbfSpec {
  uint64_t rate_bytes_per_s = 0;
  uint32_t burst_bytes = 0;   // 0: derived from the rate
  uint32_t latency_us = 50000;
};

// Builds the RTM_NEWQDISC request that adds netem as the root qdisc of `ifindex`.
// The caller owns *msg (nlmsg_free). Exposed so a unit test can inspect the attributes
// on a kernel that has no sch_netem to accept it.
Status BuildNetemRequest(int ifindex, const NetemSpec& spec, struct nl_msg** msg);

Status AddNetem(const std::string& device, const NetemSpec& spec);
Status AddTbf(const std::string& device, const TbfSpec& spec);

// Deletes the root qdisc of `device` if (and only if) its handle is `handle`.
// Idempotent: a missing device or another root qdisc is success with *removed false.
Status DeleteRootQdisc(const std::string& device, uint32_t handle, bool* removed);

// Fails if `device` has a root qdisc with an explicit handle that is not faultline's:
// someone configured it, and replacing it would destroy their configuration.
Status CheckRootIsDefault(const std::string& device, uint32_t our_handle);

// Interface index of `device`, or NotFound.
Status DeviceIndex(const std::string& device, int* ifindex);

// Parses tc-style rates: "100kbit", "1mbit", "1gbit", "500kbps" (bytes), "1000bit".
Status ParseRate(const std::string& text, uint64_t* bytes_per_s);

}  // namespace faultline::agent

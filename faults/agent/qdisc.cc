#include "faults/agent/qdisc.h"

#include <net/if.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

namespace faultline::agent {

namespace {

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct QdiscDeleter {
  void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Sock = std::unique_ptr<nl_sock, SockDeleter>;
using Qdisc = std::unique_ptr<rtnl_qdisc, QdiscDeleter>;
using Cache = std::unique_ptr<nl_cache, CacheDeleter>;

Status Connect(Sock* out) {
  Sock sock(nl_socket_alloc());
  if (!sock) return Status::Internal("nl_socket_alloc failed");
  int err = nl_connect(sock.get(), NETLINK_ROUTE);
  if (err < 0) return Status::Unavailable(std::string("rtnetlink: ") + nl_geterror(err));
  *out = std::move(sock);
  return Status::Ok();
}

// Kernel probability scale: 0 .. UINT32_MAX.
int Prob(double p) {
  if (p <= 0) return 0;
  if (p >= 1) return static_cast<int>(std::numeric_limits<uint32_t>::max());
  return static_cast<int>(static_cast<uint32_t>(std::llround(p * 4294967295.0)));
}

Status MakeNetem(int ifindex, const NetemSpec& spec, Qdisc* out) {
  Qdisc q(rtnl_qdisc_alloc());
  if (!q) return Status::Internal("rtnl_qdisc_alloc failed");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
  rtnl_tc_set_handle(TC_CAST(q.get()), kNetemHandle);
  int err = rtnl_tc_set_kind(TC_CAST(q.get()), "netem");
  if (err < 0) return Status::Internal(std::string("netem kind: ") + nl_geterror(err));
  rtnl_netem_set_limit(q.get(), static_cast<int>(spec.limit));
  rtnl_netem_set_delay(q.get(), static_cast<int>(spec.latency_us));
  if (spec.jitter_us) rtnl_netem_set_jitter(q.get(), static_cast<int>(spec.jitter_us));
  if (spec.correlation > 0) rtnl_netem_set_delay_correlation(q.get(), Prob(spec.correlation));
  if (spec.loss > 0) rtnl_netem_set_loss(q.get(), Prob(spec.loss));
  *out = std::move(q);
  return Status::Ok();
}

Status RootQdisc(nl_sock* sock, int ifindex, Qdisc* out) {
  nl_cache* raw = nullptr;
  int err = rtnl_qdisc_alloc_cache(sock, &raw);
  if (err < 0) return Status::Unavailable(std::string("qdisc list: ") + nl_geterror(err));
  Cache cache(raw);
  rtnl_qdisc* q = rtnl_qdisc_get_by_parent(cache.get(), ifindex, TC_H_ROOT);
  out->reset(q);  // rtnl_qdisc_get_by_parent returns a new reference (or null)
  return Status::Ok();
}

}  // namespace

Status DeviceIndex(const std::string& device, int* ifindex) {
  unsigned idx = if_nametoindex(device.c_str());
  if (idx == 0) return Status::NotFound("no network device '" + device + "' on this host");
  *ifindex = static_cast<int>(idx);
  return Status::Ok();
}

Status BuildNetemRequest(int ifindex, const NetemSpec& spec, nl_msg** msg) {
  Qdisc q;
  FAULTLINE_RETURN_IF_ERROR(MakeNetem(ifindex, spec, &q));
  int err = rtnl_qdisc_build_add_request(q.get(), NLM_F_CREATE | NLM_F_EXCL, msg);
  if (err < 0) return Status::Internal(std::string("netem request: ") + nl_geterror(err));
  return Status::Ok();
}

Status CheckRootIsDefault(const std::string& device, uint32_t our_handle) {
  int ifindex = 0;
  FAULTLINE_RETURN_IF_ERROR(DeviceIndex(device, &ifindex));
  Sock sock;
  FAULTLINE_RETURN_IF_ERROR(Connect(&sock));
  Qdisc root;
  FAULTLINE_RETURN_IF_ERROR(RootQdisc(sock.get(), ifindex, &root));
  if (!root) return Status::Ok();
  uint32_t handle = rtnl_tc_get_handle(TC_CAST(root.get()));
  if (handle == 0 || handle == our_handle) return Status::Ok();
  const char* kind = rtnl_tc_get_kind(TC_CAST(root.get()));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%x:", handle >> 16);
  return Status::Unavailable("device " + device + " already has a root qdisc " +
                             (kind ? kind : "?") + " " + buf +
                             " that faultline did not create; refusing to replace it");
}

Status AddNetem(const std::string& device, const NetemSpec& spec) {
  int ifindex = 0;
  FAULTLINE_RETURN_IF_ERROR(DeviceIndex(device, &ifindex));
  FAULTLINE_RETURN_IF_ERROR(CheckRootIsDefault(device, kNetemHandle));
  Sock sock;
  FAULTLINE_RETURN_IF_ERROR(Connect(&sock));
  Qdisc q;
  FAULTLINE_RETURN_IF_ERROR(MakeNetem(ifindex, spec, &q));
  int err = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return Status::Unavailable("netem on " + device + ": " + nl_geterror(err));
  return Status::Ok();
}

Status AddTbf(const std::string& device, const TbfSpec& spec) {
  int ifindex = 0;
  FAULTLINE_RETURN_IF_ERROR(DeviceIndex(device, &ifindex));
  FAULTLINE_RETURN_IF_ERROR(CheckRootIsDefault(device, kTbfHandle));
  Sock sock;
  FAULTLINE_RETURN_IF_ERROR(Connect(&sock));
  Qdisc q(rtnl_qdisc_alloc());
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
  rtnl_tc_set_handle(TC_CAST(q.get()), kTbfHandle);
  int err = rtnl_tc_set_kind(TC_CAST(q.get()), "tbf");
  if (err < 0) return Status::Internal(std::string("tbf kind: ") + nl_geterror(err));
  uint64_t rate = spec.rate_bytes_per_s;
  if (rate == 0 || rate > std::numeric_limits<int>::max()) {
    return Status::Invalid("rate must be between 1 byte/s and 2 GB/s");
  }
  // A bucket of at least one MTU-sized packet and ~10 ms of traffic, as tc users pick.
  uint32_t burst = spec.burst_bytes ? spec.burst_bytes
                                    : static_cast<uint32_t>(std::max<uint64_t>(rate / 100, 3200));
  rtnl_qdisc_tbf_set_rate(q.get(), static_cast<int>(rate), static_cast<int>(burst), 0);
  err = rtnl_qdisc_tbf_set_limit_by_latency(q.get(), static_cast<int>(spec.latency_us));
  if (err < 0) return Status::Internal(std::string("tbf limit: ") + nl_geterror(err));
  err = rtnl_qdisc_add(sock.get(), q.get(), NLM_F_CREATE | NLM_F_REPLACE);
  if (err < 0) return Status::Unavailable("tbf on " + device + ": " + nl_geterror(err));
  return Status::Ok();
}

Status DeleteRootQdisc(const std::string& device, uint32_t handle, bool* removed) {
  *removed = false;
  int ifindex = 0;
  if (!DeviceIndex(device, &ifindex).ok()) return Status::Ok();
  Sock sock;
  FAULTLINE_RETURN_IF_ERROR(Connect(&sock));
  Qdisc root;
  FAULTLINE_RETURN_IF_ERROR(RootQdisc(sock.get(), ifindex, &root));
  if (!root || rtnl_tc_get_handle(TC_CAST(root.get())) != handle) return Status::Ok();
  int err = rtnl_qdisc_delete(sock.get(), root.get());
  if (err < 0) return Status::Unavailable("deleting qdisc on " + device + ": " + nl_geterror(err));
  *removed = true;
  return Status::Ok();
}

Status ParseRate(const std::string& text, uint64_t* bytes_per_s) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return Status::Invalid("rate '" + text + "': expected a number and a unit, e.g. 1mbit");
  double value = std::strtod(text.substr(0, i).c_str(), nullptr);
  std::string unit = text.substr(i);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct U { const char* name; double bytes; };
  static const U units[] = {{"bit", 1.0 / 8}, {"kbit", 1e3 / 8}, {"mbit", 1e6 / 8},
                            {"gbit", 1e9 / 8}, {"bps", 1},        {"kbps", 1e3},
                            {"mbps", 1e6},      {"gbps", 1e9}};
  for (const auto& u : units) {
    if (unit == u.name) {
      double b = value * u.bytes;
      if (b < 1) return Status::Invalid("rate '" + text + "' is below 1 byte/s");
      *bytes_per_s = static_cast<uint64_t>(b);
      return Status::Ok();
    }
  }
  return Status::Invalid("rate '" + text +
                         "': unknown unit (bit, kbit, mbit, gbit; bps, kbps, mbps, gbps for bytes)");
}

}  // namespace faultline::agent

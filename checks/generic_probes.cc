#include "checks/generic_probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <regex>

#include "base/duration.h"
#include "base/shell.h"
#include "checks/probe.h"
#include "faults/command_fault.h"
#include "faults/transport.h"

namespace faultline {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Status Bad(const ProbeSpec& spec, const std::string& what) {
  return Status::Invalid(spec.mark.ToString() + ": probe " + spec.name + ": " + what);
}

// Reads a required string parameter.
Status StringParam(const ProbeSpec& spec, const char* key, bool required, std::string* out) {
  if (!spec.params.contains(key)) {
    if (required) return Bad(spec, std::string("missing parameter '") + key + "'");
    return Status::Ok();
  }
  const auto& v = spec.params[key];
  if (v.is_string()) *out = v.get<std::string>();
  else if (v.is_number()) *out = v.dump();
  else return Bad(spec, std::string("parameter '") + key + "' must be a string");
  return Status::Ok();
}

Status HostParam(const ProbeSpec& spec, const Inventory& inventory, std::string* host) {
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "host", true, host));
  // Without an inventory (validate without -i) the host is resolved later.
  if (!inventory.hosts.empty() && !inventory.FindHost(*host)) {
    std::string name = inventory.name();
    return Bad(spec, "host '" + *host + "' is not in the inventory" + (name.empty() ? "" : " " + name));
  }
  return Status::Ok();
}

Status ChoiceParam(const ProbeSpec& spec, const char* key, const std::vector<std::string>& choices,
                   std::string* out) {
  *out = choices.front();
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, key, false, out));
  for (const auto& c : choices) {
    if (*out == c) return Status::Ok();
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  return Bad(spec, std::string("parameter '") + key + "' is '" + *out + "'; expected one of " + list);
}

std::chrono::milliseconds TimeoutParam(const ProbeSpec& spec, std::chrono::milliseconds fallback, Status* st) {
  if (!spec.params.contains("timeout")) return fallback;
  std::string why;
  const auto& v = spec.params["timeout"];
  auto d = v.is_string() ? ParseDuration(v.get<std::string>(), &why) : std::nullopt;
  if (!d) {
    *st = Bad(spec, "parameter 'timeout': " + (why.empty() ? std::string("expected a duration such as 2s") : why));
    return fallback;
  }
  return *d;
}

// --- command ---------------------------------------------------------------------------

class CommandProbe : public Probe {
 public:
  CommandProbe(std::string host, std::vector<std::string> argv, std::string mode, std::chrono::milliseconds timeout)
      : host_(std::move(host)), argv_(std::move(argv)), mode_(std::move(mode)), timeout_(timeout) {}

  Observation Sample(ProbeContext& ctx, std::chrono::milliseconds timeout) override {
    Transport* t = ctx.TransportFor(host_);
    if (!t) return Observation::Unreachable(host_ + ": no transport to this host");
    ExecRequest req;
    req.argv = argv_;
    req.timeout = std::min(timeout, timeout_);
    ExecResult res;
    Status st = t->Exec(req, &res);
    if (!st.ok()) return Observation::Unreachable(st.message());
    if (mode_ == "stdout") {
      std::string out = Trim(res.stdout_data);
      return Observation::Value(out.empty() ? nlohmann::json() : nlohmann::json(out));
    }
    if (mode_ == "ok") return Observation::Value(res.exit_status == 0);
    return Observation::Value(res.exit_status);
  }

 private:
  std::string host_;
  std::vector<std::string> argv_;
  std::string mode_;
  std::chrono::milliseconds timeout_;
};

Status MakeCommandProbe(const ProbeSpec& spec, const Inventory& inventory, std::unique_ptr<Probe>* out) {
  std::string host, mode;
  FAULTLINE_RETURN_IF_ERROR(HostParam(spec, inventory, &host));
  if (!spec.params.contains("command")) return Bad(spec, "missing parameter 'command'");
  std::vector<std::string> argv;
  std::string why;
  if (!ParseCommandWords(spec.params["command"], &argv, &why)) return Bad(spec, "parameter 'command': " + why);
  FAULTLINE_RETURN_IF_ERROR(ChoiceParam(spec, "value", {"exit", "stdout", "ok"}, &mode));
  Status st;
  auto timeout = TimeoutParam(spec, std::chrono::milliseconds(10000), &st);
  FAULTLINE_RETURN_IF_ERROR(st);
  *out = std::make_unique<CommandProbe>(host, argv, mode, timeout);
  return Status::Ok();
}

// --- tcp -------------------------------------------------------------------------------

class TcpProbe : public Probe {
 public:
  TcpProbe(std::string host, std::string address, std::string port)
      : host_(std::move(host)), address_(std::move(address)), port_(std::move(port)) {}

  Observation Sample(ProbeContext&, std::chrono::milliseconds timeout) override {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(address_.c_str(), port_.c_str(), &hints, &res);
    if (rc != 0) {
      return Observation::Unreachable(host_ + ": cannot resolve " + address_ + ": " + gai_strerror(rc));
    }
    bool accepted = false;
    for (addrinfo* ai = res; ai && !accepted; ai = ai->ai_next) {
      accepted = TryConnect(ai, timeout);
    }
    freeaddrinfo(res);
    return Observation::Value(accepted);
  }

 private:
  static bool TryConnect(const addrinfo* ai, std::chrono::milliseconds timeout) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return false;
    bool ok = false;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    ::close(fd);
    return ok;
  }

  std::string host_;
  std::string address_;
  std::string port_;
};

Status MakeTcpProbe(const ProbeSpec& spec, const Inventory& inventory, std::unique_ptr<Probe>* out) {
  std::string host, port, address;
  FAULTLINE_RETURN_IF_ERROR(HostParam(spec, inventory, &host));
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "port", true, &port));
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    return Bad(spec, "parameter 'port' is '" + port + "'; expected a number from 1 to 65535");
  }
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "address", false, &address));
  if (address.empty()) {
    const InventoryHost* h = inventory.FindHost(host);
    address = h ? h->address() : host;
  }
  *out = std::make_unique<TcpProbe>(host, address, std::to_string(p));
  return Status::Ok();
}

// --- log -------------------------------------------------------------------------------

// Reads the file incrementally through the host's transport (stat for its size, tail for
// what was appended), so a growing log costs only its new bytes per sample. A line counts
// from the moment it is first read: lines are dated to within one sampling period.
class LogProbe : public Probe {
 public:
  LogProbe(std::string host, std::string path, std::string pattern, std::regex re, std::string mode,
           std::string since)
      : host_(std::move(host)), path_(std::move(path)), pattern_(std::move(pattern)), re_(std::move(re)),
        mode_(std::move(mode)), since_(std::move(since)) {}

  Observation Sample(ProbeContext& ctx, std::chrono::milliseconds timeout) override {
    Transport* t = ctx.TransportFor(host_);
    if (!t) return Observation::Unreachable(host_ + ": no transport to this host");
    ExecRequest stat_req{{"stat", "-L", "-c", "%s %i", path_}, "", timeout};
    ExecResult stat_res;
    Status st = t->Exec(stat_req, &stat_res);
    if (!st.ok()) return Observation::Unreachable(st.message());
    if (stat_res.exit_status != 0) {
      return Observation::Unreachable(host_ + ": cannot read " + path_ + ": " + Trim(stat_res.stderr_data));
    }
    unsigned long long size = 0, inode = 0;
    if (std::sscanf(stat_res.stdout_data.c_str(), "%llu %llu", &size, &inode) != 2) {
      return Observation::Unreachable(host_ + ": unexpected stat output for " + path_ + ": " + Trim(stat_res.stdout_data));
    }
    if (!started_) {
      // What the file held before the run is outside every window.
      started_ = true;
      offset_ = size;
      inode_ = inode;
    } else if (inode != inode_ || size < offset_) {
      // Rotated or truncated: the new file is read from its beginning.
      offset_ = 0;
      inode_ = inode;
      partial_.clear();
    }
    if (size > offset_) {
      ExecRequest tail_req{{"tail", "-c", "+" + std::to_string(offset_ + 1), path_}, "", timeout};
      ExecResult tail_res;
      st = t->Exec(tail_req, &tail_res);
      if (!st.ok()) return Observation::Unreachable(st.message());
      if (tail_res.exit_status != 0) {
        return Observation::Unreachable(host_ + ": cannot read " + path_ + ": " + Trim(tail_res.stderr_data));
      }
      offset_ += tail_res.stdout_data.size();
      Consume(partial_ + tail_res.stdout_data, ctx.NowMs());
    }
    double from = 0;
    if (!since_.empty() && since_ != "run") {
      auto started = ctx.FaultStartedMs(since_);
      if (!started) return Observation::Value(mode_ == "last" ? nlohmann::json() : nlohmann::json(0));
      from = *started;
    }
    long long count = 0;
    const std::string* last = nullptr;
    for (const auto& m : matches_) {
      if (m.seen_ms >= from) {
        ++count;
        last = &m.line;
      }
    }
    if (mode_ == "last") return Observation::Value(last ? nlohmann::json(*last) : nlohmann::json());
    return Observation::Value(count + dropped_before(from));
  }

 private:
  struct Match {
    double seen_ms;
    std::string line;
  };

  void Consume(const std::string& data, double now_ms) {
    size_t begin = 0;
    for (size_t nl; (nl = data.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      std::string line = data.substr(begin, nl - begin);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (std::regex_search(line, re_)) {
        matches_.push_back({now_ms, line});
        if (matches_.size() > kKeep) {
          dropped_.push_back(matches_.front().seen_ms);
          matches_.pop_front();
        }
      }
    }
    partial_ = data.substr(begin);
  }

  // Matches no longer kept in full still count.
  long long dropped_before(double from) const {
    long long n = 0;
    for (double t : dropped_) n += t >= from;
    return n;
  }

  static constexpr size_t kKeep = 10000;
  std::string host_, path_, pattern_;
  std::regex re_;
  std::string mode_, since_;
  bool started_ = false;
  unsigned long long offset_ = 0, inode_ = 0;
  std::string partial_;
  std::deque<Match> matches_;
  std::vector<double> dropped_;
};

Status MakeLogProbe(const ProbeSpec& spec, const Inventory& inventory, std::unique_ptr<Probe>* out) {
  std::string host, path, service, pattern, mode, since;
  FAULTLINE_RETURN_IF_ERROR(HostParam(spec, inventory, &host));
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "path", false, &path));
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "service", false, &service));
  if (path.empty() == service.empty()) {
    return Bad(spec, "expected either 'path' (the file to read) or 'service' (whose log file the inventory "
                     "names in faultline_logs), not both or neither");
  }
  if (path.empty()) {
    // The same drill reads /var/log/hadoop/... in production and the lab's own log files:
    // the inventory says where each service on each host logs.
    const InventoryHost* h = inventory.FindHost(host);
    const nlohmann::json logs = h ? h->vars.value("faultline_logs", nlohmann::json::object()) : nlohmann::json();
    if (!logs.is_object() || !logs.contains(service) || !logs[service].is_string()) {
      return Bad(spec, "host " + host + " names no log file for service '" + service +
                           "' (expected faultline_logs: {" + service + ": /path/to/file} in the inventory)");
    }
    path = logs[service].get<std::string>();
  }
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "pattern", true, &pattern));
  FAULTLINE_RETURN_IF_ERROR(ChoiceParam(spec, "value", {"count", "last"}, &mode));
  FAULTLINE_RETURN_IF_ERROR(StringParam(spec, "since", false, &since));
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Bad(spec, "parameter 'pattern' is not a valid regular expression: " + std::string(e.what()));
  }
  *out = std::make_unique<LogProbe>(host, path, pattern, std::move(re), mode, since);
  return Status::Ok();
}

}  // namespace

void RegisterGenericProbes() {
  auto& reg = ProbeRegistry::Global();
  reg.Register({"command", "a command's exit status, trimmed output or success, run on a host",
                {{"host", true, "inventory host to run it on", "host"},
                 {"command", true, "argv list or words (no shell)", ""},
                 {"value", false, "exit (default) | stdout | ok", ""},
                 {"timeout", false, "limit per run, e.g. 5s (default 10s)", ""}},
                false},
               MakeCommandProbe);
  reg.Register({"tcp", "whether a TCP connection to host:port is accepted (true/false)",
                {{"host", true, "inventory host (its ansible_host is dialled)", "host"},
                 {"port", true, "TCP port", ""},
                 {"address", false, "dial this address instead of the host's", ""}},
                false},
               MakeTcpProbe);
  reg.Register({"log", "lines matching a pattern in a file on a host since the run or a fault started",
                {{"host", true, "inventory host holding the file", "host"},
                 {"path", false, "file to read (or service)", ""},
                 {"service", false, "read the file faultline_logs names for this service", "service"},
                 {"pattern", true, "ECMAScript regular expression", ""},
                 {"value", false, "count (default) | last", ""},
                 {"since", false, "run (default) or a fault name", ""}},
                false},
               MakeLogProbe);
}

}  // namespace faultline

// ZooKeeper probes: four-letter words to each server's client port, and the AdminServer's
// commands where the server's 4lw.commands.whitelist refuses a word (checks/zk_admin.h).
#include <future>

#include "checks/zk_admin.h"
#include "checks/zk_fourlw.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

// One server's answers. A server that cannot be reached at all (stopped, partitioned) has
// `status` not ok and `blind` false: that is an observation (it is down). A server that answers
// but whose answer cannot be read — its whitelist refuses the word and its AdminServer cannot be
// read either, or the answer is not ZooKeeper's — is `blind`: nothing can be said of it, and the
// probes that need it say so instead of guessing.
struct ServerSample {
  Status status;
  bool blind = false;
  ZkServerStatus srvr;
  Status mntr_status;  // ok: `mntr` holds the server's figures
  std::map<std::string, std::string> mntr;
  bool imok = false;
};

ZkAdminEndpoint AdminOf(const ZkServer& s) { return {s.admin_url, s.admin_ca_file}; }

// Reads one four-letter word, or its AdminServer command where the server refuses the word (or
// where the inventory names the AdminServer). `*text` holds the word's answer, `*admin` the
// command's. Not ok: the server could not be reached (`*blind` false) or was reached and could
// not be read (`*blind` true), with the reason.
Status ReadWord(const ZkServer& s, const std::string& word, const std::string& command, milliseconds timeout,
                std::string* text, nlohmann::json* admin, bool* blind) {
  *blind = false;
  text->clear();
  *admin = nullptr;
  std::string refusal;
  if (!s.admin_first) {
    Status st = SendFourLetterWord(s.address, s.port, word, timeout, text);
    if (!st.ok()) return st;
    if (!FourLetterWordRefused(word, *text)) return Status::Ok();
    refusal = FourLetterWordRefusal(word) + "; ";
    text->clear();
  }
  Status st = ReadAdminCommand(AdminOf(s), command, timeout, admin);
  if (st.ok()) return st;
  *blind = !refusal.empty();
  return st.code() == Status::Code::kTimeout ? Status::Timeout(refusal + st.message())
                                            : Status::Unavailable(refusal + st.message());
}

ServerSample SampleServer(const ZkServer& s, const std::string& words, milliseconds timeout) {
  ServerSample out;
  std::string text;
  nlohmann::json admin;
  bool blind = false;
  if (words.find("srvr") != std::string::npos) {
    out.status = ReadWord(s, "srvr", "srvr", timeout, &text, &admin, &blind);
    out.blind = blind;
    if (!out.status.ok()) return out;
    out.status = admin.is_null() ? ParseSrvr(text, &out.srvr) : ParseAdminSrvr(admin, &out.srvr);
    if (!out.status.ok()) {
      out.blind = true;
      return out;
    }
  }
  if (words.find("mntr") != std::string::npos && (out.srvr.serving || words.find("srvr") == std::string::npos)) {
    out.mntr_status = ReadWord(s, "mntr", "monitor", timeout, &text, &admin, &blind);
    if (out.mntr_status.ok()) {
      if (admin.is_null()) {
        out.mntr = ParseMntr(text);
      } else {
        out.mntr_status = ParseAdminMonitor(admin, &out.mntr);
      }
    }
  }
  if (words.find("ruok") != std::string::npos) {
    out.status = ReadWord(s, "ruok", "ruok", timeout, &text, &admin, &blind);
    out.blind = blind;
    if (!out.status.ok()) return out;
    // The word answers imok whenever the process runs, serving or not (command/RuokCommand.java);
    // the AdminServer's ruok sets "error" when the server is not serving (admin/Commands.java),
    // and any answer of it likewise means the process runs.
    out.imok = admin.is_null() ? text.rfind("imok", 0) == 0 : true;
  }
  return out;
}

// Samples every server in parallel; each answer is bounded by `timeout`.
std::vector<ServerSample> SampleAll(const std::vector<ZkServer>& servers, const std::string& words,
                                    milliseconds timeout) {
  std::vector<std::future<ServerSample>> futures;
  for (const auto& s : servers) {
    futures.push_back(std::async(std::launch::async, SampleServer, s, words, timeout));
  }
  std::vector<ServerSample> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

std::string RoleOf(const ServerSample& s) {
  if (!s.status.ok()) return "unreachable";
  if (!s.srvr.serving) return "not_serving";
  return s.srvr.mode;
}

// Everything a zk.* probe needs to know once its spec is read.
struct ZkProbeSetup {
  std::vector<ZkServer> servers;
  std::string host;  // the `host` parameter, or ""
};

Status Setup(const ProbeSpec& spec, const Inventory& inventory, bool host_param, ZkProbeSetup* out) {
  std::set<std::string> allowed = {"group"};
  if (host_param) allowed.insert("host");
  FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, allowed));
  FAULTLINE_RETURN_IF_ERROR(ZkServersOf(inventory, ZkGroupFor(spec, inventory), &out->servers));
  out->host = ParamString(spec, "host");
  if (!out->host.empty()) {
    bool found = false;
    for (const auto& s : out->servers) found = found || s.host == out->host;
    if (!found) {
      return Status::Invalid(spec.mark.ToString() + ": probe " + spec.name + ": host '" + out->host +
                             "' is not one of the ZooKeeper servers");
    }
  }
  return Status::Ok();
}

void FillRoles(const std::vector<ZkServer>& servers, const std::vector<ServerSample>& samples,
               Observation* o) {
  for (size_t i = 0; i < servers.size(); ++i) o->roles[servers[i].host] = RoleOf(samples[i]);
}

// Registers a probe whose value is computed from every server's sample (or one host's).
void RegisterZk(const std::string& name, const std::string& summary, bool host_param, bool yields_hosts,
                const std::string& words,
                std::function<Observation(const ZkProbeSetup&, const std::vector<ServerSample>&)> compute) {
  ProbeInfo info;
  info.name = name;
  info.summary = summary;
  info.yields_hosts = yields_hosts;
  info.params.push_back({"group", false, "the inventory group of the ZooKeeper servers (default zookeeper)", "group"});
  if (host_param) info.params.push_back({"host", false, "one server; without it, every server", "host"});
  ProbeRegistry::Global().Register(info, [compute, host_param, words](const ProbeSpec& spec,
                                                                     const Inventory& inventory,
                                                                     std::unique_ptr<Probe>* out) {
    auto setup = std::make_shared<ZkProbeSetup>();
    FAULTLINE_RETURN_IF_ERROR(Setup(spec, inventory, host_param, setup.get()));
    *out = std::make_unique<FnProbe>([setup, compute, words](ProbeContext&, milliseconds timeout) {
      std::vector<ZkServer> servers = setup->servers;
      if (!setup->host.empty()) {
        std::erase_if(servers, [&](const ZkServer& s) { return s.host != setup->host; });
      }
      auto samples = SampleAll(servers, words, timeout);
      ZkProbeSetup narrowed = *setup;
      narrowed.servers = servers;
      // A server that answered but could not be read leaves every ZooKeeper probe unable to
      // tell (a leader or a second leader may hide there): say which and why.
      for (size_t i = 0; i < samples.size(); ++i) {
        if (samples[i].blind) return Observation::Unreachable(servers[i].host + ": " + samples[i].status.message());
      }
      Observation o = compute(narrowed, samples);
      if (words.find("srvr") != std::string::npos) FillRoles(servers, samples, &o);
      return o;
    });
    return Status::Ok();
  });
}

// A figure of the server's mntr; -1 only when the server's mntr could be read and lacks it.
// Probes that need a figure of a server whose mntr could not be read say so (MntrUnreadable).
long long MntrNumber(const ServerSample& s, const std::string& key) {
  auto it = s.mntr.find(key);
  return it == s.mntr.end() ? -1 : std::atoll(it->second.c_str());
}

bool MntrUnreadable(const ServerSample& s) { return s.status.ok() && s.srvr.serving && !s.mntr_status.ok(); }

// For the per-host numeric probes: the named host, else the leader (or standalone server).
Observation FromOneServer(const ZkProbeSetup& setup, const std::vector<ServerSample>& samples,
                          const std::function<nlohmann::json(const ServerSample&)>& value) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (!setup.host.empty()) {
      if (!s.status.ok()) return Observation::Unreachable(setup.servers[i].host + ": " + s.status.message());
      if (!s.srvr.serving) return Observation::Value(nullptr);
      if (MntrUnreadable(s)) return Observation::Unreachable(setup.servers[i].host + ": " + s.mntr_status.message());
      return Observation::Value(value(s));
    }
    if (s.status.ok() && s.srvr.serving && (s.srvr.mode == "leader" || s.srvr.mode == "standalone")) {
      if (MntrUnreadable(s)) return Observation::Unreachable(setup.servers[i].host + ": " + s.mntr_status.message());
      return Observation::Value(value(s));
    }
  }
  return Observation::Value(nullptr);
}

// Per host when `host` is given, else {host: value} for every server.
Observation PerHost(const ZkProbeSetup& setup, const std::vector<ServerSample>& samples,
                    const std::function<nlohmann::json(const ServerSample&)>& value) {
  if (!setup.host.empty()) {
    if (!samples[0].status.ok()) {
      return Observation::Unreachable(setup.host + ": " + samples[0].status.message());
    }
    return Observation::Value(value(samples[0]));
  }
  nlohmann::json all = nlohmann::json::object();
  for (size_t i = 0; i < samples.size(); ++i) {
    all[setup.servers[i].host] = samples[i].status.ok() ? value(samples[i]) : nlohmann::json(nullptr);
  }
  return Observation::Value(all);
}

}  // namespace

void RegisterZkProbes() {
  RegisterZk("zk.mode", "each server's mode from srvr: leader, follower, observer, standalone, not_serving",
             true, false, "srvr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               return PerHost(setup, samples, [](const ServerSample& s) { return nlohmann::json(RoleOf(s)); });
             });

  RegisterZk("zk.leader", "the host that leads the ensemble (or the standalone server); null when none",
             false, true, "srvr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               std::vector<std::string> leaders;
               for (size_t i = 0; i < samples.size(); ++i) {
                 std::string r = RoleOf(samples[i]);
                 if (r == "leader" || r == "standalone") leaders.push_back(setup.servers[i].host);
               }
               if (leaders.empty()) return Observation::Value(nullptr);
               // Two servers that both claim to lead are reported as such, not hidden.
               if (leaders.size() > 1) return Observation::Value(leaders);
               return Observation::Value(leaders[0]);
             });

  RegisterZk("zk.follower", "the hosts that serve as followers (a list, empty when none); a role target",
             false, true, "srvr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               nlohmann::json followers = nlohmann::json::array();
               for (size_t i = 0; i < samples.size(); ++i) {
                 if (RoleOf(samples[i]) == "follower") followers.push_back(setup.servers[i].host);
               }
               return Observation::Value(followers);
             });

  RegisterZk("zk.quorum_size", "zk_quorum_size from mntr: the voters in the server's config (the host's, else the leader's)",
             true, false, "srvr mntr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               return FromOneServer(setup, samples, [](const ServerSample& s) {
                 return nlohmann::json(MntrNumber(s, "zk_quorum_size"));
               });
             });

  RegisterZk("zk.quorum", "true when a leader serves with a quorum of synced followers", false, false,
             "srvr mntr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               for (const auto& s : samples) {
                 if (!s.status.ok() || !s.srvr.serving) continue;
                 if (s.srvr.mode == "standalone") return Observation::Value(true);
                 if (s.srvr.mode != "leader") continue;
                 if (MntrUnreadable(s)) return Observation::Unreachable(s.mntr_status.message());
                 long long synced = MntrNumber(s, "zk_synced_followers");
                 long long size = MntrNumber(s, "zk_quorum_size");
                 if (size <= 0) size = static_cast<long long>(setup.servers.size());
                 return Observation::Value(synced >= 0 && synced + 1 > size / 2);
               }
               return Observation::Value(false);
             });

  RegisterZk("zk.serving", "whether a server answers srvr with a mode (per host, or every server's)", true,
             false, "srvr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               if (!setup.host.empty()) {
                 return Observation::Value(samples[0].status.ok() && samples[0].srvr.serving);
               }
               return PerHost(setup, samples, [](const ServerSample& s) { return nlohmann::json(s.srvr.serving); });
             });

  RegisterZk("zk.znode_count", "zk_znode_count from mntr (the host's, else the leader's)", true, false,
             "srvr mntr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               return FromOneServer(setup, samples, [](const ServerSample& s) {
                 return nlohmann::json(MntrNumber(s, "zk_znode_count"));
               });
             });

  RegisterZk("zk.outstanding", "zk_outstanding_requests from mntr (the host's, else the leader's)", true,
             false, "srvr mntr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               return FromOneServer(setup, samples, [](const ServerSample& s) {
                 return nlohmann::json(MntrNumber(s, "zk_outstanding_requests"));
               });
             });

  RegisterZk("zk.followers", "the leader's zk_synced_followers from mntr; null without a leader", false,
             false, "srvr mntr", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               for (const auto& s : samples) {
                 if (s.status.ok() && s.srvr.serving && s.srvr.mode == "leader") {
                   if (MntrUnreadable(s)) return Observation::Unreachable(s.mntr_status.message());
                   return Observation::Value(MntrNumber(s, "zk_synced_followers"));
                 }
                 if (s.status.ok() && s.srvr.serving && s.srvr.mode == "standalone") return Observation::Value(0);
               }
               (void)setup;
               return Observation::Value(nullptr);
             });

  RegisterZk("zk.ruok", "whether a server answers ruok with imok (per host, or every server's)", true,
             false, "ruok", [](const ZkProbeSetup& setup, const std::vector<ServerSample>& samples) {
               if (!setup.host.empty()) {
                 return Observation::Value(samples[0].status.ok() && samples[0].imok);
               }
               return PerHost(setup, samples, [](const ServerSample& s) { return nlohmann::json(s.imok); });
             });
}

}  // namespace faultline

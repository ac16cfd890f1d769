#include "orchestrator/diagnostics.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "base/strings.h"
#include "checks/zk_probe_util.h"

namespace faultline {

namespace {

constexpr long long kMaxLogBytes = 16ll << 20;  // per log, per drill
constexpr int kMaxCaptureSeconds = 1800;        // a capture never outlives a stuck run by long
constexpr int kMaxCapturePackets = 500000;

// File names from host and log names: letters, digits, '.', '_' and '-' only.
std::string Safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return out.empty() ? "_" : out;
}

Status Run(Transport* t, std::vector<std::string> argv, ExecResult* res, int timeout_ms = 15000) {
  ExecRequest req;
  req.argv = std::move(argv);
  req.timeout = std::chrono::milliseconds(timeout_ms);
  return t->Exec(req, res);
}

bool WriteFile(const std::string& path, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

}  // namespace

std::vector<ElectionEvent> ParseElections(const std::string& host, const std::string& log_text) {
  static const std::regex line_re(
      R"((\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3}).*?(LEADING|FOLLOWING|OBSERVING) - LEADER ELECTION TOOK - (\d+) MS)");
  std::vector<ElectionEvent> out;
  size_t pos = 0;
  while (pos < log_text.size()) {
    size_t end = log_text.find('\n', pos);
    if (end == std::string::npos) end = log_text.size();
    std::string_view line(log_text.data() + pos, end - pos);
    if (line.find("LEADER ELECTION TOOK") != std::string_view::npos) {
      std::match_results<std::string_view::const_iterator> m;
      if (std::regex_search(line.begin(), line.end(), m, line_re)) {
        out.push_back(ElectionEvent{m[1].str(), host, m[2].str(), std::stoll(m[3].str())});
      }
    }
    pos = end + 1;
  }
  return out;
}

Diagnostics::Diagnostics(const Inventory& inventory, std::vector<std::string> hosts, std::string report_dir,
                         std::string drill, std::string run_id, TransportFn transport)
    : inventory_(inventory), report_dir_(std::move(report_dir)), drill_(std::move(drill)),
      run_id_(std::move(run_id)), transport_(std::move(transport)) {
  std::set<std::string> all(hosts.begin(), hosts.end());
  const std::string zk_group = InventoryVar(inventory_, "zookeeper_group", "zookeeper");
  for (const auto& [name, h] : inventory_.hosts) {
    if (h.InGroup(zk_group)) all.insert(name);
  }
  hosts_.assign(all.begin(), all.end());
  for (const auto& name : hosts_) {
    const InventoryHost* h = inventory_.FindHost(name);
    HostState st;
    if (h) {
      st.zookeeper = h->InGroup(zk_group);
      auto it = h->vars.find("faultline_logs");
      if (it != h->vars.end() && it->is_object()) {
        for (const auto& [log, path] : it->items()) {
          if (path.is_string()) st.logs[log] = path.get<std::string>();
        }
      }
    }
    state_[name] = std::move(st);
  }
}

std::vector<std::string> Diagnostics::CapturePorts(const std::string& host) const {
  const InventoryHost* h = inventory_.FindHost(host);
  std::vector<std::string> ports = {"2181", "2888", "3888"};
  if (h) {
    ports = {h->VarString("zookeeper_client_port", "2181"), h->VarString("zookeeper_quorum_port", "2888"),
             h->VarString("zookeeper_election_port", "3888")};
  }
  std::vector<std::string> filter;
  for (const auto& p : ports) {
    if (p.empty() || !std::all_of(p.begin(), p.end(), ::isdigit)) continue;
    if (!filter.empty()) filter.push_back("or");
    filter.insert(filter.end(), {"port", p});
  }
  return filter;
}

void Diagnostics::Begin() {
  if (begun_) return;
  begun_ = true;
  std::vector<std::thread> threads;
  for (auto& [host, st] : state_) {
    threads.emplace_back([this, h = host, s = &st] { BeginHost(h, s); });
  }
  for (auto& t : threads) t.join();
}

void Diagnostics::BeginHost(const std::string& host, HostState* st) {
  Transport* t = transport_(host);
  if (!t) {
    std::lock_guard<std::mutex> lock(mu_);
    begin_notes_.push_back("diagnostics: " + host + " not reachable at the start of the fault phase");
    return;
  }
  for (const auto& [name, path] : st->logs) {
    ExecResult res;
    if (Run(t, {"stat", "-c", "%s", path}, &res).ok() && res.exit_status == 0) {
      st->log_offsets[name] = std::atoll(TrimRight(res.stdout_data).c_str());
    } else {
      st->log_offsets[name] = 0;  // not there yet: whatever appears is of the window
    }
  }
  std::vector<std::string> filter = CapturePorts(host);
  if (filter.empty()) return;
  const std::string pcap = "/tmp/faultline-" + Safe(run_id_) + "-" + Safe(drill_) + "-" + Safe(host) + ".pcap";
  // The one shell: its script is fixed; the file name, the bound and tcpdump's arguments
  // arrive as positional parameters. tcpdump runs under timeout(1), detached from the
  // session, and its PID (timeout's, which passes SIGINT on) is left beside the capture.
  std::vector<std::string> argv = {
      "sh", "-c",
      "f=$1; s=$2; shift 2; command -v tcpdump >/dev/null 2>&1 || { echo 'tcpdump not installed'; exit 3; }; "
      "setsid timeout -s INT \"$s\" tcpdump \"$@\" </dev/null >/dev/null 2>\"$f.err\" & echo $! >\"$f.pid\"",
      "sh", pcap, std::to_string(kMaxCaptureSeconds), "-i", "any", "-n", "-s", "256", "-U", "-c",
      std::to_string(kMaxCapturePackets), "-w", pcap};
  argv.insert(argv.end(), filter.begin(), filter.end());
  ExecResult res;
  Status s = Run(t, argv, &res);
  std::string why;
  if (!s.ok() || res.exit_status != 0) {
    why = !s.ok() ? s.message() : TrimRight(res.stdout_data + res.stderr_data);
  } else {
    // The faults wait until the capture listens: what they do must be in it.
    why = "tcpdump did not start listening within 5 s";
    for (int k = 0; k < 50; ++k) {
      ExecResult err;
      Run(t, {"cat", pcap + ".err"}, &err);
      if (err.stdout_data.find("listening on") != std::string::npos) {
        why.clear();
        break;
      }
      if (err.stdout_data.find("tcpdump: ") != std::string::npos &&
          err.stdout_data.find("data link type") == std::string::npos) {
        why = TrimRight(err.stdout_data);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!why.empty()) {
    begin_notes_.push_back("diagnostics: no packet capture on " + host + ": " + why);
    if (res.exit_status == 0) st->pcap = pcap;  // still stopped and removed at the end
    return;
  }
  st->pcap = pcap;
}

void Diagnostics::Note(Journal* journal, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  journal->notes.push_back(text);
}

void Diagnostics::Attach(Journal* journal, const std::string& name, const std::string& rel_path) {
  std::lock_guard<std::mutex> lock(mu_);
  journal->attachments[name] = rel_path;
}

void Diagnostics::End(Journal* journal) {
  if (!begun_ || ended_) return;
  ended_ = true;
  for (const auto& n : begin_notes_) journal->notes.push_back(n);
  std::vector<std::vector<ElectionEvent>> per_host(state_.size());
  std::vector<std::thread> threads;
  size_t i = 0;
  for (auto& [host, st] : state_) {
    threads.emplace_back([this, h = host, s = &st, journal, out = &per_host[i]] { EndHost(h, s, journal, out); });
    ++i;
  }
  for (auto& t : threads) t.join();

  std::vector<ElectionEvent> all;
  for (auto& v : per_host) all.insert(all.end(), v.begin(), v.end());
  std::stable_sort(all.begin(), all.end(), [](const ElectionEvent& a, const ElectionEvent& b) { return a.time < b.time; });
  if (all.empty()) return;
  std::string text = "# time (as logged)          host   role       election took\n";
  constexpr size_t kMaxNotes = 24;  // a server that re-elects in a loop must not drown the notes
  for (size_t k = 0; k < all.size(); ++k) {
    const auto& e = all[k];
    char line[256];
    snprintf(line, sizeof line, "%-28s %-6s %-10s %lld ms\n", e.time.c_str(), e.host.c_str(), e.role.c_str(), e.took_ms);
    text += line;
    if (k < kMaxNotes) {
      journal->notes.push_back("election: " + e.time + " " + e.host + " " + e.role + " after " +
                               std::to_string(e.took_ms) + " ms");
    }
  }
  if (all.size() > kMaxNotes) {
    journal->notes.push_back("election: " + std::to_string(all.size() - kMaxNotes) +
                             " more in the election timeline (" + std::to_string(all.size()) + " in all)");
  }
  const std::string rel = "diagnostics/" + Safe(drill_) + "/elections.txt";
  if (WriteFile(report_dir_ + "/" + rel, text)) journal->attachments["election timeline"] = rel;
}

void Diagnostics::EndHost(const std::string& host, HostState* st, Journal* journal,
                          std::vector<ElectionEvent>* elections) {
  Transport* t = transport_(host);
  if (!t) {
    Note(journal, "diagnostics: " + host + " not reachable at the end of the drill; its capture (if any) "
                  "stops by itself within " + std::to_string(kMaxCaptureSeconds) + " s");
    return;
  }
  const std::string dir = "diagnostics/" + Safe(drill_) + "/" + Safe(host);
  if (!st->pcap.empty()) {
    ExecResult res;
    Run(t, {"cat", st->pcap + ".pid"}, &res);
    std::string pid = TrimRight(res.stdout_data);
    if (!pid.empty() && std::all_of(pid.begin(), pid.end(), ::isdigit)) {
      Run(t, {"kill", "-INT", pid}, &res);
      // tcpdump writes out what it buffered and, last, its counts; wait for those, briefly.
      for (int k = 0; k < 30; ++k) {
        ExecResult err;
        Run(t, {"cat", st->pcap + ".err"}, &err);
        if (err.stdout_data.find("packets captured") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ExecResult data;
    Status s = Run(t, {"cat", st->pcap}, &data, 60000);
    if (s.ok() && data.exit_status == 0 && !data.stdout_data.empty()) {
      const std::string rel = dir + "/coordination.pcap";
      if (WriteFile(report_dir_ + "/" + rel, data.stdout_data)) Attach(journal, host + " capture", rel);
    } else {
      ExecResult err;
      Run(t, {"cat", st->pcap + ".err"}, &err);
      Note(journal, "diagnostics: no capture from " + host + ": " +
                        TrimRight(!s.ok() ? s.message() : err.stdout_data.empty() ? "empty" : err.stdout_data));
    }
    Run(t, {"rm", "-f", st->pcap, st->pcap + ".pid", st->pcap + ".err"}, &data);
  }
  for (const auto& [name, path] : st->logs) {
    long long from = st->log_offsets.count(name) ? st->log_offsets[name] : 0;
    ExecResult res;
    // A log that is now shorter was started anew (a restart that truncates it): all of it
    // belongs to the window.
    if (Run(t, {"stat", "-c", "%s", path}, &res).ok() && res.exit_status == 0 &&
        std::atoll(TrimRight(res.stdout_data).c_str()) < from) {
      from = 0;
    }
    Status s = Run(t, {"tail", "-c", "+" + std::to_string(from + 1), path}, &res, 60000);
    if (!s.ok() || res.exit_status != 0) continue;  // a log that is not there is nothing to show
    std::string text = std::move(res.stdout_data);
    if (static_cast<long long>(text.size()) > kMaxLogBytes) {
      text = "[... " + std::to_string(text.size() - kMaxLogBytes) + " bytes cut ...]\n" +
             text.substr(text.size() - static_cast<size_t>(kMaxLogBytes));
    }
    if (st->zookeeper && text.find("LEADER ELECTION TOOK") != std::string::npos) {
      auto found = ParseElections(host, text);
      elections->insert(elections->end(), found.begin(), found.end());
    }
    const std::string rel = dir + "/" + Safe(name) + ".log";
    if (WriteFile(report_dir_ + "/" + rel, text)) Attach(journal, host + " " + name + " log", rel);
  }
}

}  // namespace faultline

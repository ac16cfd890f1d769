// Diagnostics from a drill's fault window, gathered on the hosts the drill can touch and on
// the ZooKeeper servers, and kept beside the report:
//
//   - a packet capture on the coordination ports (the ZooKeeper client port and the quorum
//     and election ports of the server lines, 2181/2888/3888 unless the inventory says
//     otherwise), from the start of the fault phase to the end of recovery: tcpdump on the
//     host, started detached and bounded in time and packets, stopped with SIGINT;
//   - every log the inventory lists for the host (faultline_logs), from where it stood when
//     the fault phase began;
//   - the election timeline: the ZooKeeper servers' "LEADING|FOLLOWING|OBSERVING - LEADER
//     ELECTION TOOK - N MS" lines, in time order, as a file and as journal notes.
//
// Everything is best effort: a host without tcpdump, a log that cannot be read, a host that
// stopped answering, each becomes a note, never a failed drill. Files are written under
// <report dir>/diagnostics/<drill>/<host>/ and recorded in Journal.attachments relative to
// the report directory. Every command is an argument vector; inventory values never reach
// a shell's text (the one shell used gets them as positional parameters).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "faults/transport.h"
#include "orchestrator/inventory.h"
#include "orchestrator/journal.h"

namespace faultline {

struct ElectionEvent {
  std::string time;  // as logged, "2026-12-01 11:12:27,107"
  std::string host;
  std::string role;  // LEADING, FOLLOWING, OBSERVING
  long long took_ms = 0;
};

// The election lines of one server's log text, in the order they appear.
std::vector<ElectionEvent> ParseElections(const std::string& host, const std::string& log_text);

class Diagnostics {
 public:
  using TransportFn = std::function<Transport*(const std::string& host)>;

  // `report_dir` is where the report goes; `drill` names the subdirectory; `run_id` makes
  // the remote file names unique. `hosts` are the hosts the drill can touch.
  Diagnostics(const Inventory& inventory, std::vector<std::string> hosts, std::string report_dir,
              std::string drill, std::string run_id, TransportFn transport);

  // At the start of the fault phase: log positions, captures started (in parallel).
  void Begin();
  // After recovery: captures stopped and fetched, logs fetched, the election timeline made.
  // Adds attachments and notes to the journal. Idempotent; safe without Begin.
  void End(Journal* journal);

 private:
  struct HostState {
    std::map<std::string, std::string> logs;       // name -> path on the host
    std::map<std::string, long long> log_offsets;  // name -> size when the window began
    std::string pcap;                              // remote path, when a capture runs
    bool zookeeper = false;
  };
  void BeginHost(const std::string& host, HostState* st);
  void EndHost(const std::string& host, HostState* st, Journal* journal, std::vector<ElectionEvent>* elections);
  std::vector<std::string> CapturePorts(const std::string& host) const;
  void Note(Journal* journal, const std::string& text);
  void Attach(Journal* journal, const std::string& name, const std::string& rel_path);

  const Inventory& inventory_;
  std::vector<std::string> hosts_;
  std::string report_dir_;
  std::string drill_;
  std::string run_id_;
  TransportFn transport_;
  std::map<std::string, HostState> state_;
  std::vector<std::string> begin_notes_;
  std::mutex mu_;  // journal and begin_notes_ from the per-host threads
  bool begun_ = false;
  bool ended_ = false;
};

}  // namespace faultline

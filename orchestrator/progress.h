// What `faultline run` says while it works. On a terminal: one line that keeps updating
// (drill, phase, elapsed time, what is awaited) above which events scroll. Otherwise (a
// Jenkins console, a file): plain lines with a UTC timestamp, events only, and a reminder
// of what is awaited at most every ten seconds, so a log stays readable.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace faultline {

class Progress {
 public:
  // `live`: rewrite one status line (a terminal); otherwise timestamped lines.
  Progress(std::FILE* out, bool live);
  // Progress on stderr, live when stderr is a terminal and TERM is not "dumb".
  static std::unique_ptr<Progress> ForStderr();

  void Drill(const std::string& name);          // the drill now running
  void Phase(const std::string& phase);         // preflight, faults, recovery, report
  void Event(const std::string& text);          // inject, revert, verdicts: always printed
  // What the run is waiting for now; `elapsed_ms` since the drill started.
  void Awaiting(double elapsed_ms, const std::string& what);
  void Done();                                  // clears the live line

 private:
  void PrintLine(const std::string& text);  // REQUIRES: mu_ held
  void ClearLive();                          // REQUIRES: mu_ held

  std::FILE* out_;
  bool live_;
  std::mutex mu_;
  std::string drill_, phase_;
  bool live_shown_ = false;
  double last_plain_awaiting_ms_ = -1e18;
  double last_live_ms_ = -1e18;
  std::string last_awaiting_;
};

}  // namespace faultline

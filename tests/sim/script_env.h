// The environment behind the script tests (testdata/*.txt), after etcd raft's interaction
// tests: a handful of verbs drive a small ensemble by hand over an in-order network, and every
// message, state change, record and commit is printed, so a golden file pins the exact trace.
//
// Verbs (one handler each, handler_<verb>.cc):
//   add-nodes N [observers=M]    start N voters (and M observers), all LOOKING
//   stabilize                    deliver messages until none is left
//   tick [N]                     advance every running server's clock N ticks (default 1)
//   run [N]                      N times: tick, then stabilize (time passes, network works)
//   campaign                     stabilize, wait out finalizeWait, stabilize: one election
//   propose ID DATA              a client write submitted to server ID
//   expire ID SESSION            the application on ID reports a session expired
//   partition A,B | C,D          drop traffic between the two sides
//   partition A -> B,C           drop traffic from A to B and C only (one way)
//   heal                         remove every partition
//   crash ID / restart ID        lose the process (the disk survives) / boot it again
//   pause ID / resume ID         SIGSTOP / SIGCONT: no ticks, messages wait for it
//   compact ID                   snapshot and drop the log it covers
//   status / history             each server's role and positions / what it has applied
// Invariant checkers (one leader per epoch, committed prefixes) watch every step; a violation
// is printed in the trace, so it shows up in the golden diff.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/checkers.h"
#include "tests/sim/sim_node.h"

namespace faultline::sim {

class ScriptEnv {
 public:
  // Runs one command line; the output never contains an empty line.
  // Unknown verbs and bad arguments come back as "error: ..." in the output.
  std::string Run(const std::string& line);

  using Args = std::vector<std::string>;

 private:
  std::string HandleAddNodes(const Args& args);
  std::string HandleStabilize(const Args& args);
  std::string HandleTick(const Args& args);
  std::string HandleRun(const Args& args);
  std::string HandleCampaign(const Args& args);
  std::string HandlePropose(const Args& args);
  std::string HandleExpire(const Args& args);
  std::string HandlePartition(const Args& args);
  std::string HandleHeal(const Args& args);
  std::string HandleCrash(const Args& args);
  std::string HandleRestart(const Args& args);
  std::string HandlePause(const Args& args);
  std::string HandleResume(const Args& args);
  std::string HandleCompact(const Args& args);
  std::string HandleStatus(const Args& args);
  std::string HandleHistory(const Args& args);

  // Shared machinery (script_env.cc).
  void Out(const std::string& line) { out_.push_back(line); }
  void ProcessReadys();
  void Stabilize();
  void TickAll(int n);
  SimNode* NodeArg(const std::string& arg);
  bool Running(zab::ServerId id) const;
  std::vector<zab::ServerId> ParseIds(const std::string& text);

  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::deque<zab::Message> wire_;
  std::set<std::pair<zab::ServerId, zab::ServerId>> blocked_;
  std::set<zab::ServerId> paused_;
  int64_t now_ = 0;
  std::vector<std::string> out_;
  std::vector<std::string> problems_;
  PrefixChecker prefix_;
  LeaderPerEpochChecker leaders_;
};

}  // namespace faultline::sim

// The agent's state file: every fault it holds, what it created for it, and the leases.
//
// The file is the single source of truth for revert and cleanup: nothing the file does
// not list is ever touched. It is written atomically (temp, fsync, rename) and always
// *before* the change it describes is made, so a crash at any moment leaves a file that
// names everything that might exist on the host. Reverting something that is listed but
// was never applied finds nothing and succeeds.
//
// Layout (JSON):
//   {"faults":[{"run","fault","action","params","artefacts":{...},"applied":bool,
//               "detail","notes":[...]}],
//    "leases":{"<run>":{"expires_ms":<CLOCK_MONOTONIC ms>,"lease_ms":n,
//                       "watchdog":{"pid":n,"start":n}}},
//    "netfilter":{"chains":[{"table","chain","parent"}],
//                 "guards":[{"addr","port","local_port"}]}}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline::agent {

// Thread safety: one StateStore per process; Lock() serialises processes (the agent,
// its watchdogs, `cleanup`) through flock on <dir>/lock.
class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  // Creates the directory (mode 0700) if needed.
  Status Init();
  // REQUIRES: the lock is held for Load-modify-Save sequences.
  Status Load(nlohmann::json* state) const;
  Status Save(const nlohmann::json& state) const;

  class Guard {
   public:
    explicit Guard(int fd) : fd_(fd) {}
    Guard(Guard&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

   private:
    int fd_;
  };
  // Blocks until this process holds the state lock.
  Status Lock(std::unique_ptr<Guard>* guard) const;

  std::string path() const { return dir_ + "/state.json"; }

 private:
  std::string dir_;
};

// Finds the record of (run, fault) in state["faults"]; nullptr if absent.
nlohmann::json* FindFault(nlohmann::json& state, const std::string& run, const std::string& fault);
void RemoveFault(nlohmann::json& state, const std::string& run, const std::string& fault);

}  // namespace faultline::agent

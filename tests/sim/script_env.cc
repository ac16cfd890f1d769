#include "tests/sim/script_env.h"

#include <sstream>

namespace faultline::sim {

namespace {

std::vector<std::string> Split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (l.empty()) continue;
    out += l + "\n";
  }
  return out.empty() ? "ok\n" : out;
}

}  // namespace

std::string ScriptEnv::Run(const std::string& line) {
  out_.clear();
  Args words = Split(line);
  if (words.empty()) return "error: empty command\n";
  std::string verb = words[0];
  Args args(words.begin() + 1, words.end());
  using Handler = std::string (ScriptEnv::*)(const Args&);
  static const std::map<std::string, Handler> kHandlers = {
      {"add-nodes", &ScriptEnv::HandleAddNodes}, {"stabilize", &ScriptEnv::HandleStabilize},
      {"tick", &ScriptEnv::HandleTick},          {"run", &ScriptEnv::HandleRun},          {"campaign", &ScriptEnv::HandleCampaign},
      {"propose", &ScriptEnv::HandlePropose},    {"expire", &ScriptEnv::HandleExpire},    {"partition", &ScriptEnv::HandlePartition},
      {"heal", &ScriptEnv::HandleHeal},          {"crash", &ScriptEnv::HandleCrash},
      {"restart", &ScriptEnv::HandleRestart},    {"pause", &ScriptEnv::HandlePause},
      {"resume", &ScriptEnv::HandleResume},      {"compact", &ScriptEnv::HandleCompact},
      {"status", &ScriptEnv::HandleStatus},      {"history", &ScriptEnv::HandleHistory},
  };
  auto it = kHandlers.find(verb);
  if (it == kHandlers.end()) return "error: unknown verb '" + verb + "'\n";
  std::string err = (this->*(it->second))(args);
  if (!err.empty()) out_.push_back("error: " + err);
  for (const auto& p : problems_) out_.push_back("VIOLATION: " + p);
  problems_.clear();
  return Join(out_);
}

bool ScriptEnv::Running(zab::ServerId id) const {
  return id >= 1 && id <= nodes_.size() && nodes_[id - 1]->alive() && !paused_.count(id);
}

SimNode* ScriptEnv::NodeArg(const std::string& arg) {
  try {
    size_t used = 0;
    unsigned long id = std::stoul(arg, &used);
    if (used == arg.size() && id >= 1 && id <= nodes_.size()) return nodes_[id - 1].get();
  } catch (const std::exception&) {
  }
  return nullptr;
}

std::vector<zab::ServerId> ScriptEnv::ParseIds(const std::string& text) {
  std::vector<zab::ServerId> ids;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    SimNode* node = NodeArg(part);
    if (!node) return {};
    ids.push_back(node->id());
  }
  return ids;
}

void ScriptEnv::ProcessReadys() {
  for (bool any = true; any;) {
    any = false;
    for (auto& node : nodes_) {
      if (!node->alive()) continue;
      const std::string who = std::to_string(node->id()) + ": ";
      while (node->peer().HasReady()) {
        any = true;
        zab::Ready rd = node->TakeReady(now_, &problems_);
        for (const zab::Event& ev : rd.events) {
          if (ev.text.rfind("Notification:", 0) != 0) Out(who + ev.text);
        }
        if (rd.install_snapshot) Out(who + "persist snapshot " + zab::ZxidHex(rd.install_snapshot->zxid));
        if (rd.truncate_after) Out(who + "persist truncate after " + zab::ZxidHex(*rd.truncate_after));
        if (!rd.append.empty()) {
          std::string line = who + "persist append";
          for (const zab::Txn& t : rd.append) line += " " + zab::ZxidHex(t.zxid);
          Out(line);
        }
        if (rd.hard_state) {
          Out(who + "persist acceptedEpoch=0x" + zab::Hex(rd.hard_state->accepted_epoch) +
              " currentEpoch=0x" + zab::Hex(rd.hard_state->current_epoch));
        }
        for (zab::Message& m : rd.messages) {
          Out("  " + m.ToString());
          wire_.push_back(std::move(m));
        }
        for (const zab::Txn& t : rd.commits) {
          Out(who + "commit " + zab::ZxidHex(t.zxid) + " " +
              (t.kind == zab::TxnKind::kCloseSession ? "closeSession:0x" + zab::Hex(t.session) : t.payload));
        }
        if (rd.install_snapshot || !rd.commits.empty()) {
          prefix_.OnHistory(now_, node->id(), node->history(), rd.install_snapshot.has_value(), &problems_);
        }
        if (rd.serving) {
          zab::PeerStatus st = node->peer().Describe();
          Out(who + (*rd.serving ? "serving" : "not serving"));
          if (*rd.serving && st.state == zab::ServerState::kLeading) {
            leaders_.OnLeaderServing(now_, node->id(), st.epoch, &problems_);
          }
        }
        node->CompleteFsyncs(now_);
      }
    }
  }
}

void ScriptEnv::Stabilize() {
  ProcessReadys();
  std::deque<zab::Message> waiting;  // for paused servers: they read it when they resume
  while (!wire_.empty()) {
    std::deque<zab::Message> batch;
    batch.swap(wire_);
    for (zab::Message& m : batch) {
      if (paused_.count(m.to) && nodes_[m.to - 1]->alive()) {
        waiting.push_back(std::move(m));
      } else if (!nodes_[m.to - 1]->alive()) {
        Out("  dropped (down) " + m.ToString());
      } else if (blocked_.count({m.from, m.to})) {
        Out("  dropped (partition) " + m.ToString());
      } else {
        nodes_[m.to - 1]->peer().Step(m);
      }
    }
    ProcessReadys();
  }
  wire_.swap(waiting);
}

void ScriptEnv::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    ++now_;
    for (auto& node : nodes_) {
      if (Running(node->id())) node->peer().Tick();
    }
    ProcessReadys();
  }
}

}  // namespace faultline::sim

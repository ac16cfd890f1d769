#include "faults/agent/netfilter.h"

#include <arpa/inet.h>

#include <map>

#include "faults/agent/sys.h"

namespace faultline::agent {

namespace {

struct ChainInfo {
  const char* table;
  const char* chain;
  const char* parent;
  bool inbound;  // guards match the controller as source (INPUT) or destination
};

const ChainInfo kChains[] = {
    {"filter", kChainInput, "INPUT", true},
    {"filter", kChainOutput, "OUTPUT", false},
    {"mangle", kChainPost, "POSTROUTING", false},
};

const ChainInfo* Info(const std::string& chain) {
  for (const auto& c : kChains) {
    if (chain == c.chain) return &c;
  }
  return nullptr;
}

std::vector<std::string> Iptables(const std::string& table, const std::string& op,
                                  const std::string& chain) {
  return {"iptables", "-w", "10", "-t", table, op, chain};
}

std::vector<std::string> JumpSpec(const std::string& chain) {
  return {"-m", "comment", "--comment", "faultline:jump", "-j", chain};
}

std::vector<std::string> GuardSpec(const ChainInfo& c, const nlohmann::json& g) {
  std::string addr = g.value("addr", "");
  std::string port = std::to_string(g.value("port", 0));
  int local = g.value("local_port", 0);
  std::vector<std::string> spec = {c.inbound ? "-s" : "-d", addr, "-p", "tcp",
                                   c.inbound ? "--sport" : "--dport", port};
  if (local > 0) {
    spec.push_back(c.inbound ? "--dport" : "--sport");
    spec.push_back(std::to_string(local));
  }
  for (const char* s : {"-m", "comment", "--comment", "faultline:guard", "-j", "ACCEPT"}) {
    spec.push_back(s);
  }
  return spec;
}

bool RuleExists(const std::string& table, const std::string& chain,
                const std::vector<std::string>& spec) {
  auto argv = Iptables(table, "-C", chain);
  argv.insert(argv.end(), spec.begin(), spec.end());
  CommandResult r;
  return RunCommand(argv, &r).ok() && r.exit_status == 0;
}

bool ChainExists(const std::string& table, const std::string& chain) {
  CommandResult r;
  return RunCommand({"iptables", "-w", "10", "-t", table, "-S", chain}, &r).ok() &&
         r.exit_status == 0;
}

std::vector<std::string> Spec(const nlohmann::json& rule) {
  return rule.at("spec").get<std::vector<std::string>>();
}

}  // namespace

nlohmann::json MakeRule(const std::string& table, const std::string& chain,
                        std::vector<std::string> spec) {
  return {{"table", table}, {"chain", chain}, {"spec", std::move(spec)}};
}

Status CheckAddress(const std::string& text) {
  std::string addr = text;
  auto slash = text.find('/');
  if (slash != std::string::npos) {
    addr = text.substr(0, slash);
    std::string bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Invalid("'" + text + "' is not an address or CIDR");
    }
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return Status::Ok();
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    return Status::Invalid("'" + text + "': IPv6 peers are not supported yet (iptables only)");
  }
  return Status::Invalid("'" + text + "' is not an IPv4 address or CIDR (names are resolved "
                         "by the controller)");
}

Status EnsureChain(const StateStore& store, nlohmann::json& state, const std::string& chain) {
  const ChainInfo* c = Info(chain);
  if (!c) return Status::Internal("unknown faultline chain " + chain);
  auto& chains = state["netfilter"]["chains"];
  bool recorded = false;
  for (const auto& rec : chains) recorded |= rec.value("chain", "") == chain;
  if (!recorded) {
    chains.push_back({{"table", c->table}, {"chain", c->chain}, {"parent", c->parent}});
    FAULTLINE_RETURN_IF_ERROR(store.Save(state));
  }
  if (!ChainExists(c->table, c->chain)) {
    FAULTLINE_RETURN_IF_ERROR(RunChecked(Iptables(c->table, "-N", c->chain)));
  }
  // Guards first, in the order they came; then the jump, so no packet ever meets the
  // chain without its guards.
  for (const auto& g : state["netfilter"]["guards"]) {
    auto spec = GuardSpec(*c, g);
    if (!RuleExists(c->table, c->chain, spec)) {
      auto argv = Iptables(c->table, "-A", c->chain);
      argv.insert(argv.end(), spec.begin(), spec.end());
      FAULTLINE_RETURN_IF_ERROR(RunChecked(argv));
    }
  }
  auto jump = JumpSpec(c->chain);
  if (!RuleExists(c->table, c->parent, jump)) {
    auto argv = Iptables(c->table, "-I", c->parent);
    argv.push_back("1");
    argv.insert(argv.end(), jump.begin(), jump.end());
    FAULTLINE_RETURN_IF_ERROR(RunChecked(argv));
  }
  return Status::Ok();
}

// One iptables-restore --noflush for a whole batch: a partition of a host from many peers
// is one exec and one kernel transaction instead of one per rule.
std::string RestoreText(const nlohmann::json& rules, const char* op) {
  std::map<std::string, std::string> by_table;
  for (const auto& rule : rules) {
    std::string line = std::string(op) + " " + rule.at("chain").get<std::string>();
    for (const auto& arg : Spec(rule)) {
      bool plain = !arg.empty() && arg.find_first_of(" \t\"'\\") == std::string::npos;
      if (plain) {
        line += " " + arg;
      } else {
        std::string q = "\"";
        for (char c : arg) {
          if (c == '"' || c == '\\') q += '\\';
          q += c;
        }
        line += " " + q + "\"";
      }
    }
    by_table[rule.at("table").get<std::string>()] += line + "\n";
  }
  std::string text;
  for (const auto& [table, lines] : by_table) text += "*" + table + "\n" + lines + "COMMIT\n";
  return text;
}

bool RestoreBatch(const nlohmann::json& rules, const char* op) {
  if (rules.empty()) return true;
  std::string text = RestoreText(rules, op);
  CommandResult r;
  return RunCommand({"iptables-restore", "-w", "10", "--noflush"}, &r, std::chrono::milliseconds(30000),
                    &text)
             .ok() &&
         r.exit_status == 0;
}

Status AddRules(const nlohmann::json& rules) {
  // The state file guarantees a fault's rules are added once (a half-applied fault is
  // reverted before it is applied again), so the batch needs no per-rule check.
  if (RestoreBatch(rules, "-A")) return Status::Ok();
  for (const auto& rule : rules) {
    std::string table = rule.at("table"), chain = rule.at("chain");
    auto spec = Spec(rule);
    if (RuleExists(table, chain, spec)) continue;
    auto argv = Iptables(table, "-A", chain);
    argv.insert(argv.end(), spec.begin(), spec.end());
    FAULTLINE_RETURN_IF_ERROR(RunChecked(argv));
  }
  return Status::Ok();
}

Status DeleteRules(const nlohmann::json& rules) {
  // All present (the usual revert): one batch. Otherwise rule by rule, skipping the absent.
  if (RestoreBatch(rules, "-D")) return Status::Ok();
  Status first;
  for (const auto& rule : rules) {
    std::string table = rule.at("table"), chain = rule.at("chain");
    auto spec = Spec(rule);
    // Loop: a rule added twice by hand-made accident must not outlive its fault.
    for (int i = 0; i < 16 && RuleExists(table, chain, spec); ++i) {
      auto argv = Iptables(table, "-D", chain);
      argv.insert(argv.end(), spec.begin(), spec.end());
      Status st = RunChecked(argv);
      if (!st.ok()) {
        if (first.ok()) first = st;
        break;
      }
    }
  }
  return first;
}

Status DropUnusedChains(const StateStore& store, nlohmann::json& state) {
  for (const auto& f : state["faults"]) {
    if (f.contains("artefacts") && f["artefacts"].contains("rules") &&
        !f["artefacts"]["rules"].empty()) {
      return Status::Ok();
    }
  }
  auto& chains = state["netfilter"]["chains"];
  Status first;
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& rec : chains) {
    std::string table = rec.value("table", ""), chain = rec.value("chain", ""),
                parent = rec.value("parent", "");
    if (!Info(chain)) continue;  // never remove a chain that is not one of ours by name
    Status st;
    auto jump = JumpSpec(chain);
    for (int i = 0; i < 16 && RuleExists(table, parent, jump); ++i) {
      auto argv = Iptables(table, "-D", parent);
      argv.insert(argv.end(), jump.begin(), jump.end());
      st = RunChecked(argv);
      if (!st.ok()) break;
    }
    if (st.ok() && ChainExists(table, chain)) {
      st = RunChecked(Iptables(table, "-F", chain));
      if (st.ok()) st = RunChecked(Iptables(table, "-X", chain));
    }
    if (!st.ok()) {
      kept.push_back(rec);
      if (first.ok()) first = st;
    }
  }
  chains = kept;
  if (kept.empty()) state["netfilter"]["guards"] = nlohmann::json::array();
  FAULTLINE_RETURN_IF_ERROR(store.Save(state));
  return first;
}

Status AddGuard(const StateStore& store, nlohmann::json& state, const nlohmann::json& guard) {
  FAULTLINE_RETURN_IF_ERROR(CheckAddress(guard.value("addr", "")));
  int port = guard.value("port", 0);
  if (port <= 0 || port > 65535) return Status::Invalid("guard port must be 1..65535");
  auto& guards = state["netfilter"]["guards"];
  for (const auto& g : guards) {
    if (g == guard) return Status::Ok();
  }
  guards.push_back(guard);
  FAULTLINE_RETURN_IF_ERROR(store.Save(state));
  for (const auto& rec : state["netfilter"]["chains"]) {
    const ChainInfo* c = Info(rec.value("chain", ""));
    if (!c || !ChainExists(c->table, c->chain)) continue;
    auto argv = Iptables(c->table, "-I", c->chain);
    argv.push_back("1");
    auto spec = GuardSpec(*c, guard);
    argv.insert(argv.end(), spec.begin(), spec.end());
    FAULTLINE_RETURN_IF_ERROR(RunChecked(argv));
  }
  return Status::Ok();
}

}  // namespace faultline::agent

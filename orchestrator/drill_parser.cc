// Drill YAML to Drill, strictly: every key known, every value of the kind it must be, every
// reference resolved. The schema is written down in docs/drills.md.
#include "orchestrator/drill_parser.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "base/duration.h"
#include "checks/probe.h"
#include "faults/fault.h"
#include "orchestrator/inventory_yaml.h"

namespace faultline {
namespace {

const std::vector<std::string> kTopKeys = {
    "name",   "title",   "description",         "steady_state", "faults",
    "expect", "recover", "expects_quorum_loss", "sample_every", "preflight_within"};
const std::vector<std::string> kPredicateKeys = {"equals",  "not",      "present",
                                                 "at_most", "at_least", "changed"};
const std::vector<std::string> kModeKeys = {"within", "always", "never", "for"};
const std::vector<std::string> kWindowKeys = {"during", "after"};
const std::vector<std::string> kFaultKeys = {"name", "action", "target", "offset", "duration"};
const std::vector<std::string> kTargetKeys = {"host", "hosts", "group", "role", "pick", "except"};
const std::vector<std::string> kPicks = {"one", "majority", "minority", "all"};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back("'" + n + "'");
  return JoinNames(q);
}

class DrillParser {
 public:
  DrillParser(std::string file) : file_(std::move(file)) {}

  Status Parse(const std::string& text, Drill* out);

 private:
  void Err(const YAML::Mark& m, const std::string& msg) {
    errors_.push_back({MarkOf(file_, m), msg});
  }
  void Err(const YAML::Node& n, const std::string& msg) { Err(n.Mark(), msg); }
  void Err(const SourceMark& m, const std::string& msg) { errors_.push_back({m, msg}); }
  SourceMark Mark(const YAML::Node& n) const { return MarkOf(file_, n); }

  // A mapping with unique scalar keys, or an error saying what `what` should be.
  bool ExpectMap(const YAML::Node& n, const std::string& what, const std::string& expected);
  bool GetString(const YAML::Node& n, const std::string& key, std::string* out);
  bool GetBool(const YAML::Node& n, const std::string& key, bool* out);
  bool GetTrue(const YAML::Node& n, const std::string& key);
  bool GetDuration(const YAML::Node& n, const std::string& key, Millis* out);

  void ParseTop(const YAML::Node& root, Drill* d);
  void ParseSteady(const YAML::Node& list, Drill* d);
  void ParseFaults(const YAML::Node& list, Drill* d);
  void ParseExpect(const YAML::Node& list, Drill* d);
  void ParseRecover(const YAML::Node& n, Drill* d);
  bool ParseTarget(const YAML::Node& n, const std::string& where, TargetSpec* t);
  bool ParamValue(const YAML::Node& n, const FaultParam& p, nlohmann::json* out);

  // Fills probe and predicate from an entry; keys in `extra` are left to the caller and
  // reported in *rest. Returns false if the entry is unusable.
  bool ParseCheck(const YAML::Node& entry, const std::string& where,
                  const std::vector<std::string>& extra, ProbeSpec* probe, Predicate* pred,
                  std::vector<std::pair<YAML::Node, YAML::Node>>* rest);
  bool ParsePredicate(const std::string& key, const YAML::Node& v, Predicate* pred);
  void CheckReferences(const Drill& d);
  void CheckOperandRefs(const Drill& d, const nlohmann::json& operand, const std::string& anchor,
                        const SourceMark& mark);

  std::string file_;
  std::vector<std::pair<SourceMark, std::string>> errors_;
};

bool DrillParser::ExpectMap(const YAML::Node& n, const std::string& what,
                            const std::string& expected) {
  if (!n.IsMap()) {
    Err(n, "expected " + what + " to be " + expected);
    return false;
  }
  std::set<std::string> seen;
  bool ok = true;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) {
      Err(kv.first, "expected a plain key in " + what);
      ok = false;
    } else if (!seen.insert(kv.first.Scalar()).second) {
      Err(kv.first, "duplicate key '" + kv.first.Scalar() + "' in " + what);
      ok = false;
    }
  }
  return ok;
}

bool DrillParser::GetString(const YAML::Node& n, const std::string& key, std::string* out) {
  if (!n.IsScalar() || (n.Tag() == "?" && YamlScalarToJson(n, YamlTyping::kCore12).is_null())) {
    Err(n, "expected a string after '" + key + "'");
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool DrillParser::GetBool(const YAML::Node& n, const std::string& key, bool* out) {
  nlohmann::json j = n.IsScalar() ? YamlScalarToJson(n, YamlTyping::kCore12) : nlohmann::json();
  if (!j.is_boolean()) {
    Err(n, "expected true or false after '" + key + "', got " +
               (n.IsScalar() ? "'" + n.Scalar() + "'" : "a structure"));
    return false;
  }
  *out = j.get<bool>();
  return true;
}

bool DrillParser::GetTrue(const YAML::Node& n, const std::string& key) {
  bool b = false;
  if (!GetBool(n, key, &b)) return false;
  if (!b) {
    Err(n, "expected '" + key + ": true'; to drop the condition, remove the key");
    return false;
  }
  return true;
}

bool DrillParser::GetDuration(const YAML::Node& n, const std::string& key, Millis* out) {
  if (!n.IsScalar()) {
    Err(n, "expected a duration such as 250ms, 30s or 1m30s after '" + key + "'");
    return false;
  }
  std::string why;
  auto d = ParseDuration(n.Scalar(), &why);
  if (!d) {
    Err(n, key + ": " + why);
    return false;
  }
  *out = *d;
  return true;
}

Status DrillParser::Parse(const std::string& text, Drill* out) {
  *out = Drill();
  out->file = file_;
  SourceMark top;
  top.file = file_;
  top.line = 1;
  top.column = 1;
  out->mark = top;
  if (auto bad = FirstInvalidUtf8(text, file_)) {
    return Status::Invalid(bad->ToString() + ": expected UTF-8 text, found a byte that is not");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::Invalid(MarkOf(file_, e.mark).ToString() + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(top.ToString() + ": YAML error: " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    return Status::Invalid(
        top.ToString() +
        ": expected a drill (a mapping with name, faults and expect), got an empty file");
  }
  ParseTop(root, out);
  if (errors_.empty()) CheckReferences(*out);
  if (errors_.empty()) return Status::Ok();

  // One error per line: a second complaint about the same line is almost always a
  // consequence of the first.
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line
                                        : a.first.column < b.first.column;
  });
  std::string msg;
  int last_line = -1;
  for (const auto& [mark, text] : errors_) {
    if (mark.line == last_line && mark.line > 0) continue;
    last_line = mark.line;
    if (!msg.empty()) msg += "\n";
    msg += mark.ToString() + ": " + text;
  }
  return Status::Invalid(msg);
}

void DrillParser::ParseTop(const YAML::Node& root, Drill* d) {
  if (!ExpectMap(root, "the drill", "a mapping with name, faults and expect")) return;
  d->mark = Mark(root);
  std::map<std::string, YAML::Node> keys;
  for (const auto& kv : root) {
    const std::string& k = kv.first.Scalar();
    if (!Contains(kTopKeys, k)) {
      Err(kv.first, UnknownNameMessage("key", k, "drill", kTopKeys));
      continue;
    }
    keys.emplace(k, kv.second);
  }
  if (!keys.count("name")) {
    Err(root, "missing 'name' in drill; expected a short identifier such as F3");
  } else if (GetString(keys["name"], "name", &d->name) && d->name.empty()) {
    Err(keys["name"], "expected a non-empty drill name");
  }
  if (keys.count("title")) GetString(keys["title"], "title", &d->title);
  if (keys.count("description")) GetString(keys["description"], "description", &d->description);
  if (keys.count("expects_quorum_loss"))
    GetBool(keys["expects_quorum_loss"], "expects_quorum_loss", &d->expects_quorum_loss);
  if (keys.count("sample_every")) {
    Millis m{0};
    if (GetDuration(keys["sample_every"], "sample_every", &m)) {
      if (m < Millis(50) || m > Millis(10000)) {
        Err(keys["sample_every"], "expected a sampling period between 50ms and 10s, got " +
                                      keys["sample_every"].Scalar());
      } else {
        d->sample_every = m;
      }
    }
  }
  if (keys.count("preflight_within")) {
    Millis m{0};
    if (GetDuration(keys["preflight_within"], "preflight_within", &m)) {
      if (m <= Millis(0))
        Err(keys["preflight_within"],
            "expected a duration greater than 0s after 'preflight_within'");
      else
        d->preflight_within = m;
    }
  }
  // Faults first, whatever the order in the file: steady checks and expectations refer to them.
  if (!keys.count("faults")) {
    Err(root,
        "missing 'faults' in drill; expected a list of faults, each with name, action and target");
  } else {
    ParseFaults(keys["faults"], d);
  }
  if (keys.count("steady_state")) ParseSteady(keys["steady_state"], d);
  if (keys.count("expect")) ParseExpect(keys["expect"], d);
  if (keys.count("recover")) ParseRecover(keys["recover"], d);
}

void DrillParser::ParseRecover(const YAML::Node& n, Drill* d) {
  if (!ExpectMap(n, "'recover'", "a mapping such as {within: 120s}")) return;
  for (const auto& kv : n) {
    const std::string& k = kv.first.Scalar();
    if (k == "within") {
      Millis m{0};
      if (GetDuration(kv.second, "within", &m)) {
        if (m <= Millis(0))
          Err(kv.second, "expected a duration greater than 0s after 'within'");
        else
          d->recover_within = m;
      }
    } else {
      Err(kv.first, UnknownNameMessage("key", k, "recover", {"within"}));
    }
  }
}

bool DrillParser::ParseTarget(const YAML::Node& n, const std::string& where, TargetSpec* t) {
  t->mark = Mark(n);
  if (!ExpectMap(
          n, "the target of " + where,
          "a mapping such as {host: nn1}, {group: zookeeper, pick: one} or {role: zk.leader}")) {
    return false;
  }
  std::vector<std::string> kinds;
  std::optional<YAML::Node> pick, except;
  bool ok = true;
  for (const auto& kv : n) {
    const std::string& k = kv.first.Scalar();
    if (!Contains(kTargetKeys, k)) {
      Err(kv.first, UnknownNameMessage("key", k, "target", kTargetKeys));
      ok = false;
      continue;
    }
    if (k == "pick") {
      pick.emplace(kv.second);
      continue;
    }
    if (k == "except") {
      except.emplace(kv.second);
      continue;
    }
    kinds.push_back(k);
    std::string s;
    if (k == "hosts") {
      t->kind = TargetSpec::Kind::kHost;
      if (!kv.second.IsSequence() || kv.second.size() == 0) {
        Err(kv.second, "expected a non-empty list of host names after 'hosts'");
        ok = false;
        continue;
      }
      for (const auto& h : kv.second) {
        if (!GetString(h, "hosts", &s)) {
          ok = false;
          continue;
        }
        t->names.push_back(s);
      }
      continue;
    }
    if (!GetString(kv.second, k, &s) || s.empty()) {
      ok = false;
      continue;
    }
    t->names.push_back(s);
    if (k == "host") t->kind = TargetSpec::Kind::kHost;
    if (k == "group") t->kind = TargetSpec::Kind::kGroup;
    if (k == "role") {
      t->kind = TargetSpec::Kind::kRole;
      const ProbeInfo* info = ProbeRegistry::Global().Find(s);
      std::vector<std::string> roles;
      for (const auto& name : ProbeRegistry::Global().Names()) {
        const ProbeInfo* pi = ProbeRegistry::Global().Find(name);
        if (pi && pi->yields_hosts) roles.push_back(name);
      }
      if (!info) {
        Err(kv.second, UnknownNameMessage("role probe", s, "target", roles));
        ok = false;
      } else if (!info->yields_hosts) {
        Err(kv.second,
            "probe '" + s + "' does not name hosts, so it cannot be a role target" +
                (roles.empty() ? std::string() : "; role probes are: " + JoinNames(roles)));
        ok = false;
      }
    }
  }
  if (kinds.empty()) {
    if (ok) Err(n, "expected one of host, hosts, group or role in the target of " + where);
    return false;
  }
  if (kinds.size() > 1) {
    Err(n, "conflicting " + Quoted(kinds) + " in the target of " + where +
               "; expected exactly one of host, hosts, group or role");
    return false;
  }
  if (except) {
    t->except_mark = Mark(*except);
    if (t->kind == TargetSpec::Kind::kHost) {
      Err(*except, "'except' applies to group and role targets only");
      return false;
    }
    std::vector<YAML::Node> items;
    if (except->IsSequence()) {
      for (const auto& e : *except) items.push_back(e);
    } else {
      items.push_back(*except);
    }
    if (items.empty()) {
      Err(*except, "expected a host name, ${faults.<name>.target} or a list of them after 'except'");
      return false;
    }
    for (const auto& e : items) {
      std::string s;
      if (!GetString(e, "except", &s) || s.empty()) return false;
      t->except.push_back(s);
    }
  }
  if (pick) {
    if (t->kind == TargetSpec::Kind::kHost) {
      Err(*pick, "'pick' applies to group and role targets only");
      return false;
    }
    std::string p;
    if (!GetString(*pick, "pick", &p)) return false;
    if (p == "one")
      t->pick = TargetSpec::Pick::kOne;
    else if (p == "majority")
      t->pick = TargetSpec::Pick::kMajority;
    else if (p == "minority")
      t->pick = TargetSpec::Pick::kMinority;
    else if (p == "all")
      t->pick = TargetSpec::Pick::kAll;
    else {
      Err(*pick, UnknownNameMessage("pick", p, "target", kPicks));
      return false;
    }
  }
  return ok;
}

bool DrillParser::ParamValue(const YAML::Node& n, const FaultParam& p, nlohmann::json* out) {
  using K = FaultParam::Kind;
  auto scalar_or_fail = [&](const std::string& expected) {
    if (n.IsScalar() && !(n.Tag() == "?" && YamlScalarToJson(n, YamlTyping::kCore12).is_null()))
      return true;
    Err(n, "expected " + expected + " after '" + p.name + "'");
    return false;
  };
  std::string why;
  switch (p.kind) {
    case K::kString:
      if (!scalar_or_fail("a string")) return false;
      *out = n.Scalar();
      return true;
    case K::kDuration:
      if (!scalar_or_fail("a duration such as 250ms, 30s or 1m30s")) return false;
      if (!ParseDuration(n.Scalar(), &why)) {
        Err(n, p.name + ": " + why);
        return false;
      }
      *out = n.Scalar();
      return true;
    case K::kPercent:
      if (!scalar_or_fail("a percentage such as 20%")) return false;
      if (!ParsePercent(n.Scalar(), &why)) {
        Err(n, p.name + ": " + why);
        return false;
      }
      *out = n.Scalar();
      return true;
    case K::kBytes:
      if (!scalar_or_fail("a size such as 512MiB or 2G")) return false;
      if (!ParseBytes(n.Scalar(), &why)) {
        Err(n, p.name + ": " + why);
        return false;
      }
      *out = n.Scalar();
      return true;
    case K::kInt: {
      nlohmann::json j = n.IsScalar() ? YamlScalarToJson(n, YamlTyping::kCore12) : nlohmann::json();
      if (!j.is_number_integer()) {
        Err(n, "expected a whole number after '" + p.name + "'" +
                   (n.IsScalar() ? ", got '" + n.Scalar() + "'" : ""));
        return false;
      }
      *out = j;
      return true;
    }
    case K::kBool: {
      bool b = false;
      if (!GetBool(n, p.name, &b)) return false;
      *out = b;
      return true;
    }
    case K::kStringList:
    case K::kCommand: {
      const std::string expected =
          p.kind == K::kCommand ? "a command (a string or a list of words)" : "a list of strings";
      if (n.IsScalar()) {
        if (!scalar_or_fail(expected) || n.Scalar().empty()) {
          if (n.Scalar().empty())
            Err(n, "expected " + expected + " after '" + p.name + "', got an empty string");
          return false;
        }
        *out = p.kind == K::kCommand ? nlohmann::json(n.Scalar())
                                     : nlohmann::json::array({n.Scalar()});
        return true;
      }
      if (!n.IsSequence() || n.size() == 0) {
        Err(n, "expected " + expected + " after '" + p.name + "'");
        return false;
      }
      nlohmann::json arr = nlohmann::json::array();
      bool nested = p.kind == K::kCommand && n[0].IsSequence();
      for (const auto& e : n) {
        // A command may be a list of commands, each a list of words, run in order.
        if (nested) {
          if (!e.IsSequence() || e.size() == 0) {
            Err(e, "expected a list of words here: '" + p.name + "' is a list of commands, each a list");
            return false;
          }
          nlohmann::json words = nlohmann::json::array();
          for (const auto& w : e) {
            if (!w.IsScalar() || w.Scalar().empty()) {
              Err(w, "expected a non-empty string in the command list after '" + p.name + "'");
              return false;
            }
            words.push_back(w.Scalar());
          }
          arr.push_back(words);
          continue;
        }
        if (!e.IsScalar()) {
          Err(e, "expected a string in the list after '" + p.name + "'");
          return false;
        }
        arr.push_back(e.Scalar());
      }
      *out = arr;
      return true;
    }
    case K::kAny:
      *out = YamlToJson(n, YamlTyping::kCore12);
      return true;
  }
  return false;
}

void DrillParser::ParseFaults(const YAML::Node& list, Drill* d) {
  if (!list.IsSequence() || list.size() == 0) {
    Err(list,
        "expected 'faults' to be a non-empty list of faults, each with name, action and target");
    return;
  }
  static const std::regex kName("[A-Za-z0-9][A-Za-z0-9_.-]*");
  std::set<std::string> names;
  const FaultCatalogue& cat = FaultCatalogue::Global();
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& n = list[i];
    std::string where = "faults[" + std::to_string(i) + "]";
    if (!ExpectMap(n, where, "a mapping with name, action and target")) continue;
    FaultStep f;
    f.mark = Mark(n);
    YAML::Node name = n["name"], action = n["action"], target = n["target"];
    if (!name.IsDefined()) {
      Err(n, "missing 'name' in " + where + "; expected a short name such as kill-active");
    } else if (GetString(name, "name", &f.name)) {
      if (!std::regex_match(f.name, kName)) {
        Err(name, "expected a fault name made of letters, digits, '.', '_' and '-', got '" +
                      f.name + "'");
      } else if (!names.insert(f.name).second) {
        Err(name, "duplicate fault name '" + f.name + "'; each fault needs its own name");
      } else {
        where = "fault '" + f.name + "'";
      }
    }
    const FaultActionInfo* info = nullptr;
    if (!action.IsDefined()) {
      Err(n, "missing 'action' in " + where + "; expected one of: " + JoinNames(cat.Names()));
    } else if (GetString(action, "action", &f.action)) {
      info = cat.Find(f.action);
      if (!info) Err(action, UnknownNameMessage("action", f.action, where, cat.Names()));
    }
    if (!target.IsDefined()) {
      Err(n, "missing 'target' in " + where +
                 "; expected {host: ...}, {group: ..., pick: ...} or {role: ...}");
    } else {
      ParseTarget(target, where, &f.target);
    }
    std::vector<std::string> param_names;
    std::set<std::string> misspelt;  // known names that unknown keys were taken for
    if (info) {
      for (const auto& p : info->params) param_names.push_back(p.name);
    }
    for (const auto& kv : n) {
      const std::string& k = kv.first.Scalar();
      if (k == "name" || k == "action" || k == "target") continue;
      if (k == "offset") {
        GetDuration(kv.second, "offset", &f.offset);
        continue;
      }
      if (k == "duration") {
        Millis m{0};
        if (GetDuration(kv.second, "duration", &m)) {
          if (m <= Millis(0))
            Err(kv.second, "expected a duration greater than 0s after 'duration'");
          else
            f.duration = m;
        }
        continue;
      }
      if (!info) continue;  // parameters cannot be judged without knowing the action
      auto p = std::find_if(info->params.begin(), info->params.end(),
                            [&](const FaultParam& fp) { return fp.name == k; });
      if (p == info->params.end()) {
        Err(kv.first, UnknownNameMessage("key", k, where + " (action " + f.action + ")",
                                         Concat(kFaultKeys, param_names)));
        misspelt.insert(NearestName(k, Concat(kFaultKeys, param_names)));
        continue;
      }
      nlohmann::json v;
      if (ParamValue(kv.second, *p, &v)) f.params[k] = v;
    }
    if (info) {
      for (const auto& p : info->params) {
        // A misspelt required parameter is already reported with its suggestion.
        if (p.required && !n[p.name].IsDefined() && !misspelt.count(p.name)) {
          Err(n, "missing parameter '" + p.name + "' for action " + f.action + " in " + where +
                     (p.help.empty() ? std::string() : " (" + p.help + ")"));
        }
      }
    }
    d->faults.push_back(std::move(f));
  }
}

bool DrillParser::ParsePredicate(const std::string& key, const YAML::Node& v, Predicate* pred) {
  pred->mark = Mark(v);
  if (key == "equals") {
    if (v.IsMap()) {
      if (v.size() == 1 && v["not"].IsDefined()) {
        pred->op = Predicate::Op::kNotEquals;
        pred->operand = YamlToJson(v["not"], YamlTyping::kCore12);
        return true;
      }
      Err(v, "expected a value or {not: value} after 'equals'");
      return false;
    }
    pred->op = Predicate::Op::kEquals;
    pred->operand = YamlToJson(v, YamlTyping::kCore12);
    return true;
  }
  if (key == "not") {
    pred->op = Predicate::Op::kNotEquals;
    pred->operand = YamlToJson(v, YamlTyping::kCore12);
    return true;
  }
  if (key == "present") {
    bool b = false;
    if (!GetBool(v, "present", &b)) return false;
    pred->op = b ? Predicate::Op::kPresent : Predicate::Op::kAbsent;
    return true;
  }
  if (key == "at_most" || key == "at_least") {
    nlohmann::json j = v.IsScalar() ? YamlScalarToJson(v, YamlTyping::kCore12) : nlohmann::json();
    if (!j.is_number()) {
      Err(v, "expected a number after '" + key + "'" +
                 (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
      return false;
    }
    pred->op = key == "at_most" ? Predicate::Op::kAtMost : Predicate::Op::kAtLeast;
    pred->operand = j;
    return true;
  }
  if (key == "changed") {
    bool b = false;
    if (!GetBool(v, "changed", &b)) return false;
    // "changed: false" reads as "still what it was before the fault".
    pred->op = b ? Predicate::Op::kChanged : Predicate::Op::kEquals;
    if (!b) pred->operand = "${before}";
    return true;
  }
  return false;
}

bool DrillParser::ParseCheck(const YAML::Node& entry, const std::string& where,
                             const std::vector<std::string>& extra, ProbeSpec* probe,
                             Predicate* pred,
                             std::vector<std::pair<YAML::Node, YAML::Node>>* rest) {
  if (!ExpectMap(entry, where, "a mapping with probe and one of " + JoinNames(kPredicateKeys)))
    return false;
  probe->mark = Mark(entry);
  YAML::Node pnode = entry["probe"];
  const ProbeInfo* info = nullptr;
  bool ok = true;
  if (!pnode.IsDefined()) {
    Err(entry, "missing 'probe' in " + where + "; expected the name of a probe such as zk.quorum");
    ok = false;
  } else if (GetString(pnode, "probe", &probe->name)) {
    info = ProbeRegistry::Global().Find(probe->name);
    if (!info) {
      Err(pnode, UnknownNameMessage("probe", probe->name, where, ProbeRegistry::Global().Names()));
      ok = false;
    }
  } else {
    ok = false;
  }
  std::vector<std::string> param_names;
  if (info) {
    for (const auto& p : info->params) param_names.push_back(p.name);
  }
  std::vector<std::string> predicates;
  std::vector<std::string> known = Concat(Concat({"probe"}, kPredicateKeys), extra);
  for (const auto& kv : entry) {
    const std::string& k = kv.first.Scalar();
    if (k == "probe") continue;
    if (Contains(kPredicateKeys, k)) {
      predicates.push_back(k);
      if (predicates.size() == 1) {
        if (!ParsePredicate(k, kv.second, pred)) ok = false;
      } else {
        Err(kv.first, "conflicting predicates " + Quoted(predicates) + " in " + where +
                          "; expected exactly one of " + JoinNames(kPredicateKeys));
        ok = false;
      }
      continue;
    }
    if (Contains(extra, k)) {
      rest->push_back({kv.first, kv.second});
      continue;
    }
    if (Contains(param_names, k)) {
      probe->params[k] = YamlToJson(kv.second, YamlTyping::kCore12);
      continue;
    }
    if (info || !pnode.IsDefined()) {
      Err(kv.first, UnknownNameMessage("key", k, where, Concat(known, param_names)));
      ok = false;
    }
  }
  if (predicates.empty()) {
    Err(entry, "missing predicate in " + where + "; expected one of " + JoinNames(kPredicateKeys));
    ok = false;
  }
  if (info) {
    for (const auto& p : info->params) {
      if (p.required && !entry[p.name].IsDefined()) {
        Err(entry, "missing parameter '" + p.name + "' for probe " + probe->name + " in " + where +
                       (p.help.empty() ? std::string() : " (" + p.help + ")"));
        ok = false;
      }
    }
  }
  return ok;
}

void DrillParser::ParseSteady(const YAML::Node& list, Drill* d) {
  if (list.IsNull()) return;
  if (!list.IsSequence()) {
    Err(list, "expected 'steady_state' to be a list of checks, each with probe and a predicate");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    SteadyCheck c;
    std::vector<std::pair<YAML::Node, YAML::Node>> rest;
    std::string where = "steady_state[" + std::to_string(i) + "]";
    if (ParseCheck(list[i], where, {}, &c.probe, &c.predicate, &rest))
      d->steady_state.push_back(std::move(c));
  }
}

void DrillParser::ParseExpect(const YAML::Node& list, Drill* d) {
  if (list.IsNull()) return;
  if (!list.IsSequence()) {
    Err(list,
        "expected 'expect' to be a list of expectations, each with probe, a predicate and a "
        "timing");
    return;
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    Expectation e;
    e.id = "expect[" + std::to_string(i) + "]";
    std::string where = "expectation";
    std::vector<std::pair<YAML::Node, YAML::Node>> rest;
    const std::vector<std::string> extra = Concat(Concat({"name"}, kModeKeys), kWindowKeys);
    bool ok = ParseCheck(list[i], where, extra, &e.probe, &e.predicate, &rest);
    if (!list[i].IsMap()) continue;
    e.mark = Mark(list[i]);
    std::vector<std::string> modes, windows;
    for (const auto& [k, v] : rest) {
      const std::string key = k.Scalar();
      if (key == "name") {
        std::string id;
        if (GetString(v, "name", &id)) {
          if (!ids.insert(id).second) {
            Err(v, "duplicate expectation name '" + id + "'");
            ok = false;
          }
          e.id = id;
        }
      } else if (Contains(kModeKeys, key)) {
        modes.push_back(key);
        if (modes.size() > 1) {
          Err(k, "conflicting " + Quoted(modes) +
                     " in expectation; expected exactly one of within, always, never or for");
          ok = false;
          continue;
        }
        if (key == "within" || key == "for") {
          e.mode = key == "within" ? Expectation::Mode::kWithin : Expectation::Mode::kFor;
          if (!GetDuration(v, key, &e.span))
            ok = false;
          else if (e.span <= Millis(0)) {
            Err(v, "expected a duration greater than 0s after '" + key + "'");
            ok = false;
          }
        } else {
          e.mode = key == "always" ? Expectation::Mode::kAlways : Expectation::Mode::kNever;
          if (!GetTrue(v, key)) ok = false;
        }
      } else {
        windows.push_back(key);
        if (windows.size() > 1) {
          Err(k, "conflicting 'during' and 'after' in expectation; expected at most one window");
          ok = false;
          continue;
        }
        e.window =
            key == "during" ? Expectation::Window::kDuringFault : Expectation::Window::kAfterRevert;
        if (!GetString(v, key, &e.anchor)) {
          ok = false;
          continue;
        }
        auto f = std::find_if(d->faults.begin(), d->faults.end(),
                              [&](const FaultStep& s) { return s.name == e.anchor; });
        if (f == d->faults.end()) {
          std::vector<std::string> names;
          for (const auto& s : d->faults) names.push_back(s.name);
          Err(v, UnknownNameMessage("fault", e.anchor, "'" + key + "'", names));
          ok = false;
        }
      }
    }
    if (modes.empty()) {
      Err(list[i], "missing timing in expectation; expected one of within, always, never or for");
      ok = false;
    }
    if (ok) d->expect.push_back(std::move(e));
  }
}

void DrillParser::CheckOperandRefs(const Drill& d, const nlohmann::json& operand,
                                   const std::string& anchor, const SourceMark& mark) {
  if (operand.is_array() || operand.is_object()) {
    for (const auto& e : operand) CheckOperandRefs(d, e, anchor, mark);
    return;
  }
  if (!operand.is_string()) return;
  static const std::regex kRef("\\$\\{([^}]*)\\}");
  const std::string s = operand.get<std::string>();
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kRef); it != std::sregex_iterator();
       ++it) {
    std::string ref = (*it)[1];
    if (ref == "before") continue;
    if (ref == "target") {
      if (anchor.empty() && d.faults.size() > 1) {
        Err(mark, "'${target}' is ambiguous with " + std::to_string(d.faults.size()) +
                      " faults; add 'during: <fault>' or 'after: <fault>', or write "
                      "${faults.<name>.target}");
      }
      continue;
    }
    static const std::regex kFaultRef("faults\\.([^.]+)\\.target");
    std::smatch m;
    if (std::regex_match(ref, m, kFaultRef)) {
      std::vector<std::string> names;
      for (const auto& f : d.faults) names.push_back(f.name);
      if (!Contains(names, m[1]))
        Err(mark, UnknownNameMessage("fault", m[1], "'${" + ref + "}'", names));
      continue;
    }
    Err(mark, "unknown reference '${" + ref +
                  "}'; expected ${target}, ${before} or ${faults.<name>.target}");
  }
}

void DrillParser::CheckReferences(const Drill& d) {
  for (const auto& c : d.steady_state) {
    // Steady state is judged before the first fault and after the last revert: there is
    // no fault to refer to.
    if (c.predicate.operand.is_string() &&
        c.predicate.operand.get<std::string>().find("${") != std::string::npos) {
      Err(c.predicate.mark, "steady_state checks cannot use references such as '" +
                                c.predicate.operand.get<std::string>() +
                                "'; they hold with no fault applied");
    }
    for (const auto& [k, v] : c.probe.params.items()) {
      if (v.is_string() && v.get<std::string>().find("${") != std::string::npos) {
        Err(c.probe.mark, "steady_state checks cannot use references such as '" +
                              v.get<std::string>() + "' (in '" + k +
                              "'); they hold with no fault applied");
      }
    }
  }
  // A target's `except` names hosts, or the hosts of a fault injected before it.
  for (const auto& f : d.faults) {
    for (const auto& x : f.target.except) {
      if (x.find("${") == std::string::npos) continue;
      const std::string ref = FaultTargetRef(x);
      if (ref.empty()) {
        Err(f.target.except_mark, "unknown reference '" + x + "' in 'except' of fault " + f.name +
                               "; expected a host name or ${faults.<name>.target}");
        continue;
      }
      std::vector<std::string> names;
      const FaultStep* other = nullptr;
      for (const auto& g : d.faults) {
        names.push_back(g.name);
        if (g.name == ref) other = &g;
      }
      if (!other) {
        Err(f.target.except_mark, UnknownNameMessage("fault", ref, "'except' of fault " + f.name, names));
      } else if (other == &f || other->offset >= f.offset) {
        Err(f.target.except_mark, "'except' of fault " + f.name + " refers to fault " + ref + ", which starts at " +
                               FormatDuration(other->offset) + ", not before this one (" +
                               FormatDuration(f.offset) + "); its hosts are not known yet");
      }
    }
  }
  for (const auto& e : d.expect) {
    CheckOperandRefs(d, e.predicate.operand, e.anchor, e.predicate.mark);
    // Probe parameters may point at the fault's hosts too (host: "${target}").
    CheckOperandRefs(d, e.probe.params, e.anchor, e.probe.mark);
  }
}

// ---- against an inventory --------------------------------------------------------------

size_t PickCount(TargetSpec::Pick pick, size_t n) {
  switch (pick) {
    case TargetSpec::Pick::kAll:
      return n;
    case TargetSpec::Pick::kOne:
      return n ? 1 : 0;
    case TargetSpec::Pick::kMajority:
      return n / 2 + 1;
    case TargetSpec::Pick::kMinority:
      return (n - (n ? 1 : 0)) / 2;
  }
  return n;
}

std::vector<std::string> HostNames(const Inventory& inv) {
  std::vector<std::string> out;
  for (const auto& [n, h] : inv.hosts) out.push_back(n);
  return out;
}

std::vector<std::string> GroupNames(const Inventory& inv) {
  std::vector<std::string> out;
  for (const auto& [n, g] : inv.groups) out.push_back(n);
  return out;
}

std::vector<std::string> EntryNames(const InventoryHost& h, const std::string& var) {
  std::vector<std::string> out;
  auto it = h.vars.find(var);
  if (it != h.vars.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) out.push_back(k);
  }
  return out;
}

class InventoryChecker {
 public:
  InventoryChecker(const Drill& d, const Inventory& inv) : d_(d), inv_(inv) {}

  Status Run() {
    for (const auto& f : d_.faults) CheckFault(f);
    for (const auto& c : d_.steady_state) CheckProbe(c.probe);
    for (const auto& e : d_.expect) CheckProbe(e.probe);
    if (!d_.expects_quorum_loss) CheckQuorum();
    if (errors_.empty()) return Status::Ok();
    return Status::Invalid(JoinNames(errors_, "\n"));
  }

 private:
  void Err(const SourceMark& m, const std::string& msg) {
    errors_.push_back(m.ToString() + ": " + msg);
  }

  // Hosts a static target can reach; empty with an error reported when it names nothing.
  std::vector<std::string> Candidates(const TargetSpec& t, bool* role) {
    *role = false;
    std::vector<std::string> out;
    if (t.kind == TargetSpec::Kind::kHost) {
      for (const auto& h : t.names) {
        if (inv_.FindHost(h))
          out.push_back(h);
        else
          Err(t.mark, UnknownNameMessage("host", h, "inventory " + inv_.path, HostNames(inv_)));
      }
    } else if (t.kind == TargetSpec::Kind::kGroup) {
      const InventoryGroup* g = inv_.FindGroup(t.names.at(0));
      if (!g)
        Err(t.mark,
            UnknownNameMessage("group", t.names[0], "inventory " + inv_.path, GroupNames(inv_)));
      else if (g->hosts.empty())
        Err(t.mark, "group '" + g->name + "' has no hosts in inventory " + inv_.path);
      else if (PickCount(t.pick, g->hosts.size()) == 0) {
        Err(t.mark, "group '" + g->name + "' has " + std::to_string(g->hosts.size()) +
                        " host(s): too few for a minority; expected a group of at least 3");
      } else
        out = g->hosts;
    } else {
      *role = true;
      out = HostNames(inv_);
    }
    return out;
  }

  // A process or service named by a fault must be defined on every host the fault may
  // land on (for a role target: on at least one host).
  void CheckEntry(const std::string& var, const std::string& kind, const std::string& name,
                  const std::vector<std::string>& hosts, bool any, const SourceMark& mark) {
    std::vector<std::string> missing;
    for (const auto& h : hosts) {
      auto names = EntryNames(*inv_.FindHost(h), var);
      if (!Contains(names, name)) missing.push_back(h);
    }
    if (missing.empty() || (any && missing.size() < hosts.size())) return;
    Err(mark, kind + " '" + name + "' is not defined in " + var + " of " +
                  (any ? "any host" : "host(s) " + JoinNames(missing)) + " in inventory " +
                  inv_.path);
  }

  void CheckRef(const std::string& refers_to, const nlohmann::json& value,
                const std::vector<std::string>& hosts, bool any, const SourceMark& mark) {
    std::vector<std::string> names;
    if (value.is_string())
      names.push_back(value.get<std::string>());
    else if (value.is_array()) {
      for (const auto& v : value) {
        if (v.is_string()) names.push_back(v.get<std::string>());
      }
    }
    for (const auto& n : names) {
      if (n.find("${") != std::string::npos) continue;  // resolved at run time
      if (refers_to == "host" && !inv_.FindHost(n)) {
        Err(mark, UnknownNameMessage("host", n, "inventory " + inv_.path, HostNames(inv_)));
      } else if (refers_to == "group" && !inv_.FindGroup(n)) {
        Err(mark, UnknownNameMessage("group", n, "inventory " + inv_.path, GroupNames(inv_)));
      } else if (refers_to == "process") {
        CheckEntry("faultline_processes", "process", n, hosts, any, mark);
      } else if (refers_to == "service") {
        CheckEntry("faultline_services", "service", n, hosts, any, mark);
      }
    }
  }

  void CheckFault(const FaultStep& f) {
    bool role = false;
    std::vector<std::string> hosts = Candidates(f.target, &role);
    for (const auto& x : f.target.except) {
      if (x.find("${") == std::string::npos && !inv_.FindHost(x)) {
        Err(f.target.except_mark, UnknownNameMessage("host", x, "inventory " + inv_.path, HostNames(inv_)) +
                               " (in 'except' of fault " + f.name + ")");
      }
    }
    const FaultActionInfo* info = FaultCatalogue::Global().Find(f.action);
    if (!info || hosts.empty()) return;
    for (const auto& p : info->params) {
      if (p.refers_to.empty() || !f.params.contains(p.name)) continue;
      CheckRef(p.refers_to, f.params[p.name], hosts, role, f.mark);
    }
  }

  void CheckProbe(const ProbeSpec& spec) {
    const ProbeInfo* info = ProbeRegistry::Global().Find(spec.name);
    if (!info) return;
    // A probe pinned to one host resolves its process/service there; otherwise anywhere.
    std::vector<std::string> hosts = HostNames(inv_);
    bool any = true;
    if (spec.params.contains("host") && spec.params["host"].is_string() &&
        inv_.FindHost(spec.params["host"].get<std::string>())) {
      hosts = {spec.params["host"].get<std::string>()};
      any = false;
    }
    for (const auto& p : info->params) {
      if (p.refers_to.empty() || !spec.params.contains(p.name)) continue;
      CheckRef(p.refers_to, spec.params[p.name], hosts, any, spec.mark);
    }
  }

  void CheckQuorum() {
    struct Hit {
      const FaultStep* fault;
      std::set<std::string> known;
      size_t unknown = 0;  // hosts picked at run time: counted as distinct from the known
    };
    for (const auto& [gname, group] : inv_.groups) {
      auto q = group.vars.find("faultline_quorum");
      if (q == group.vars.end() || !q->is_boolean() || !q->get<bool>() || group.hosts.empty())
        continue;
      const std::set<std::string> qh(group.hosts.begin(), group.hosts.end());
      const size_t need = qh.size() / 2 + 1;
      std::vector<Hit> hits;
      for (const auto& f : d_.faults) {
        const FaultActionInfo* info = FaultCatalogue::Global().Find(f.action);
        // A generic action (command) says per fault whether it takes its host out.
        bool removes = (info && info->removes_host) ||
                       (f.params.contains("removes_host") && f.params["removes_host"] == true);
        if (!removes) continue;
        Hit h{&f, {}, 0};
        const TargetSpec& t = f.target;
        if (t.kind == TargetSpec::Kind::kHost) {
          for (const auto& n : t.names) {
            if (qh.count(n)) h.known.insert(n);
          }
        } else if (t.kind == TargetSpec::Kind::kGroup) {
          const InventoryGroup* g = inv_.FindGroup(t.names[0]);
          if (!g) continue;
          std::vector<std::string> in_q;
          for (const auto& n : g->hosts) {
            if (qh.count(n)) in_q.push_back(n);
          }
          size_t k = PickCount(t.pick, g->hosts.size());
          if (k >= g->hosts.size())
            h.known.insert(in_q.begin(), in_q.end());
          else
            h.unknown = std::min(k, in_q.size());
        } else {
          // A role names hosts only at run time; as written (one leader, one active) it
          // counts as one host, and a majority/minority pick as that share of the group.
          h.unknown = t.pick == TargetSpec::Pick::kMajority || t.pick == TargetSpec::Pick::kMinority
                          ? PickCount(t.pick, qh.size())
                          : 1;
        }
        if (!h.known.empty() || h.unknown > 0) hits.push_back(std::move(h));
      }
      auto end_of = [](const FaultStep* f) {
        return f->duration ? f->offset + *f->duration : Millis::max();
      };
      for (const auto& at : hits) {
        std::set<std::string> known;
        size_t unknown = 0;
        std::vector<std::string> names;
        for (const auto& h : hits) {
          if (h.fault->offset <= at.fault->offset && at.fault->offset < end_of(h.fault)) {
            known.insert(h.known.begin(), h.known.end());
            unknown += h.unknown;
            names.push_back(h.fault->name);
          }
        }
        size_t down = std::min(qh.size(), known.size() + unknown);
        if (down >= need) {
          std::string who = names.size() == 1 ? "fault '" + names[0] + "'"
                                              : "faults " + Quoted(names) + " together";
          Err(at.fault->mark,
              who + " can take down " + std::to_string(down) + " of the " +
                  std::to_string(qh.size()) + " hosts of quorum group '" + gname +
                  "' at once, a majority; add "
                  "'expects_quorum_loss: true' to the drill if losing the quorum is its point");
          break;
        }
      }
    }
  }

  const Drill& d_;
  const Inventory& inv_;
  std::vector<std::string> errors_;
};

}  // namespace

Status ParseDrillText(const std::string& text, const std::string& file_name, Drill* out) {
  DrillParser p(file_name);
  return p.Parse(text, out);
}

Status ParseDrillFile(const std::string& path, Drill* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid(path + ": cannot read the drill file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseDrillText(ss.str(), path, out);
}

Status CheckDrillAgainstInventory(const Drill& drill, const Inventory& inventory) {
  return InventoryChecker(drill, inventory).Run();
}

}  // namespace faultline

// Loading Ansible inventories (INI and YAML) the way Ansible reads them, then checking and
// normalising faultline's own variables. See docs/inventory.md.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "base/duration.h"
#include "orchestrator/inventory.h"
#include "orchestrator/inventory_yaml.h"

namespace faultline {
namespace {

// Guards against a pattern such as h[0:99999999] exhausting memory.
constexpr size_t kMaxExpandedHosts = 10000;

struct RawVar {
  nlohmann::json value;
  SourceMark mark;
};

struct RawGroup {
  std::string name;
  std::vector<std::string> hosts;     // direct members
  std::vector<std::string> children;  // direct children
  std::map<std::string, RawVar> vars;
  SourceMark mark;
  bool has_vars_section = false;  // INI [g:vars] seen
  bool declared = false;          // defined as a group somewhere, not only given vars
  SourceMark vars_mark;
};

struct RawHost {
  std::string name;
  std::map<std::string, RawVar> vars;
  SourceMark mark;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// Expands Ansible host ranges: zk[1:3], zk[01:03], node-[a:c], web[0:10:2]; several
// ranges in one name multiply.
bool ExpandHostPattern(const std::string& pattern, std::vector<std::string>* out,
                       std::string* why) {
  size_t open = pattern.find('[');
  if (open == std::string::npos) {
    if (pattern.find(']') != std::string::npos) {
      *why = "unexpected ']' in host name '" + pattern + "'";
      return false;
    }
    out->push_back(pattern);
    return true;
  }
  size_t close = pattern.find(']', open);
  if (close == std::string::npos) {
    *why = "unterminated range in host name '" + pattern + "': expected [start:end]";
    return false;
  }
  std::string head = pattern.substr(0, open);
  std::string body = pattern.substr(open + 1, close - open - 1);
  std::string tail = pattern.substr(close + 1);
  std::vector<std::string> parts;
  {
    std::stringstream ss(body);
    std::string p;
    while (std::getline(ss, p, ':')) parts.push_back(p);
    if (!body.empty() && body.back() == ':') parts.push_back("");
  }
  if (parts.size() < 2 || parts.size() > 3) {
    *why = "bad range '[" + body + "]' in host name '" + pattern +
           "': expected [start:end] or [start:end:step]";
    return false;
  }
  std::string beg = parts[0].empty() ? "0" : parts[0];
  std::string end = parts[1];
  long step = 1;
  if (end.empty()) {
    *why = "bad range '[" + body + "]' in host name '" + pattern +
           "': the end of the range is missing";
    return false;
  }
  if (parts.size() == 3) {
    if (!AllDigits(parts[2]) || parts[2].size() > 6 || std::stol(parts[2]) == 0) {
      *why = "bad range '[" + body + "]' in host name '" + pattern +
             "': the step must be a positive number";
      return false;
    }
    step = std::stol(parts[2]);
  }
  std::vector<std::string> seq;
  if (AllDigits(beg) && AllDigits(end)) {
    if (beg.size() > 9 || end.size() > 9) {
      *why = "range '[" + body + "]' in host name '" + pattern + "' is too large";
      return false;
    }
    size_t width = 0;
    if (beg.size() > 1 && beg[0] == '0') {
      if (beg.size() != end.size()) {
        *why = "bad range '[" + body + "]' in host name '" + pattern +
               "': a zero-padded start and its end must have the same width";
        return false;
      }
      width = beg.size();
    }
    long b = std::stol(beg), e = std::stol(end);
    if (b > e) {
      *why = "bad range '[" + body + "]' in host name '" + pattern +
             "': the start must not be after the end";
      return false;
    }
    if (static_cast<size_t>((e - b) / step + 1) > kMaxExpandedHosts) {
      *why = "range '[" + body + "]' in host name '" + pattern + "' names more than " +
             std::to_string(kMaxExpandedHosts) + " hosts";
      return false;
    }
    for (long i = b; i <= e; i += step) {
      std::string n = std::to_string(i);
      if (n.size() < width) n = std::string(width - n.size(), '0') + n;
      seq.push_back(n);
    }
  } else if (beg.size() == 1 && end.size() == 1 &&
             std::isalpha(static_cast<unsigned char>(beg[0])) &&
             std::isalpha(static_cast<unsigned char>(end[0]))) {
    static const std::string kLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t b = kLetters.find(beg[0]), e = kLetters.find(end[0]);
    if (b > e) {
      *why = "bad range '[" + body + "]' in host name '" + pattern +
             "': the start must not be after the end";
      return false;
    }
    for (size_t i = b; i <= e; i += static_cast<size_t>(step))
      seq.push_back(std::string(1, kLetters[i]));
  } else {
    *why = "bad range '[" + body + "]' in host name '" + pattern +
           "': expected numbers ([1:3], [01:03]) or single letters ([a:c])";
    return false;
  }
  std::vector<std::string> tails;
  if (!ExpandHostPattern(tail, &tails, why)) return false;
  if (seq.size() * tails.size() > kMaxExpandedHosts) {
    *why = "host name '" + pattern + "' names more than " + std::to_string(kMaxExpandedHosts) +
           " hosts";
    return false;
  }
  for (const auto& s : seq) {
    for (const auto& t : tails) out->push_back(head + s + t);
  }
  return true;
}

// ---- faultline's own variables -------------------------------------------------------

const std::vector<std::string>& FaultlineVarNames() {
  // Read by other parts (transports, agent driver, lab); listed so that typos of them are
  // caught here, where the file and line are known.
  static const std::vector<std::string> kNames = {"faultline_transport",
                                                  "faultline_netns",
                                                  "faultline_processes",
                                                  "faultline_services",
                                                  "faultline_quorum",
                                                  "faultline_production",
                                                  "faultline_name",
                                                  "faultline_agent_path",
                                                  "faultline_agent_lease",
                                                  "faultline_agent_state_dir",
                                                  "faultline_jump_host",
                                                  "faultline_ssh_known_hosts",
                                                  "faultline_ssh_password_env",
                                                  "faultline_logs",
                                                  "faultline_log_dir",
                                                  "faultline_data_dir",
                                                  "faultline_lab_state",
                                                  "faultline_coord"};
  return kNames;
}

bool ToBool(const nlohmann::json& v, bool* out) {
  if (v.is_boolean()) {
    *out = v.get<bool>();
    return true;
  }
  if (v.is_number_integer() && (v == 0 || v == 1)) {
    *out = v == 1;
    return true;
  }
  if (v.is_string()) {
    // Ansible's `bool` filter: the strings an operator writes in [group:vars].
    std::string s = Lower(v.get<std::string>());
    if (s == "true" || s == "yes" || s == "on" || s == "1" || s == "y") return *out = true, true;
    if (s == "false" || s == "no" || s == "off" || s == "0" || s == "n") return *out = false, true;
  }
  return false;
}

// INI [group:vars] values are strings; structured faultline variables written there are
// read as YAML flow text ({namenode: {match: NameNode}}), the way a playbook would use
// `from_yaml`.
bool StructuredFromString(nlohmann::json* v, std::string* why) {
  if (!v->is_string()) return true;
  try {
    YAML::Node n = YAML::Load(v->get<std::string>());
    *v = YamlToJson(n, YamlTyping::kYaml11);
    return true;
  } catch (const YAML::Exception& e) {
    *why = "cannot read it as YAML (" + e.msg + ")";
    return false;
  }
}

bool IsCommand(const nlohmann::json& v) {
  if (v.is_string()) return !Trim(v.get<std::string>()).empty();
  if (!v.is_array() || v.empty()) return false;
  return std::all_of(v.begin(), v.end(),
                     [](const nlohmann::json& e) { return e.is_string() || e.is_number(); });
}

// Checks one variable where it is written and rewrites it into its canonical type. Returns
// "" when fine, else what was expected.
std::string NormaliseVar(const std::string& key, nlohmann::json* v) {
  std::string why;
  if (key == "faultline_transport") {
    static const std::vector<std::string> kKinds = {"ssh", "local", "netns"};
    if (!v->is_string()) return "faultline_transport: expected one of ssh, local, netns";
    std::string s = v->get<std::string>();
    if (std::find(kKinds.begin(), kKinds.end(), s) == kKinds.end()) {
      return UnknownNameMessage("transport", s, "faultline_transport", kKinds);
    }
    return "";
  }
  if (key == "faultline_netns" || key == "faultline_name" || key == "hdfs_nameservice" ||
      key == "yarn_cluster_id" || key == "hbase_znode_parent" || key == "faultline_agent_path") {
    if (v->is_number()) *v = SafeDump(*v);
    if (v->is_null()) return "";
    if (!v->is_string()) return key + ": expected a string, got " + SafeDump(*v);
    const std::string s = v->get<std::string>();
    // An empty value means "not set" (generated inventories write every key).
    if (s.empty()) return "";
    if ((key == "hbase_znode_parent" || key == "faultline_agent_path") && s[0] != '/') {
      return key + ": expected an absolute path starting with '/', got '" + s + "'";
    }
    return "";
  }
  if (key == "faultline_quorum" || key == "faultline_production") {
    bool b = false;
    if (!ToBool(*v, &b)) return key + ": expected true or false, got " + SafeDump(*v);
    *v = b;
    return "";
  }
  if (key == "zookeeper_client_port" || key == "ansible_port") {
    long long port = -1;
    if (v->is_number_integer())
      port = v->get<long long>();
    else if (v->is_string() && AllDigits(v->get<std::string>()) && v->get<std::string>().size() < 7)
      port = std::stoll(v->get<std::string>());
    if (port < 1 || port > 65535)
      return key + ": expected a TCP port (1-65535), got " + SafeDump(*v);
    *v = static_cast<int>(port);
    return "";
  }
  if (key == "kafka_topics") {
    if (v->is_string()) {
      nlohmann::json arr = nlohmann::json::array();
      std::stringstream ss(v->get<std::string>());
      std::string t;
      while (std::getline(ss, t, ',')) {
        t = Trim(t);
        if (!t.empty()) arr.push_back(t);
      }
      if (!arr.empty() && v->get<std::string>().find('[') == std::string::npos) {
        *v = arr;
        return "";
      }
      if (!StructuredFromString(v, &why)) return key + ": " + why;
    }
    if (!v->is_array() ||
        !std::all_of(v->begin(), v->end(), [](const nlohmann::json& e) { return e.is_string(); })) {
      return "kafka_topics: expected a list of topic names or a comma-separated string";
    }
    return "";
  }
  if (key == "faultline_processes") {
    if (!StructuredFromString(v, &why)) return key + ": " + why;
    if (!v->is_object()) {
      return "faultline_processes: expected a mapping of process names to {match: ...}, {pidfile: "
             "...} or {service: ...}";
    }
    static const std::vector<std::string> kWays = {"match", "pidfile", "service"};
    for (auto& [name, spec] : v->items()) {
      const std::string where = "faultline_processes." + name;
      if (!spec.is_object())
        return where + ": expected a mapping with one of match, pidfile or service";
      // The process is found by match or pidfile, or else through its service; a service
      // beside match or pidfile is the one that starts it again after a process.kill.
      int finders = 0;
      for (auto& [k, val] : spec.items()) {
        if (std::find(kWays.begin(), kWays.end(), k) == kWays.end()) {
          return where + ": " + UnknownNameMessage("key", k, "", kWays);
        }
        if (val.is_number()) val = val.dump();
        if (!val.is_string() || val.get<std::string>().empty())
          return where + "." + k + ": expected a non-empty string";
        if (k != "service") ++finders;
      }
      if (finders > 1) {
        return where + ": expected one of match or pidfile (with an optional service), or a service alone, got " +
               std::to_string(finders) + " ways to find it";
      }
      if (finders == 0 && !spec.contains("service")) {
        return where + ": expected one of match, pidfile or service, got none";
      }
      if (spec.contains("pidfile") && spec["pidfile"].get<std::string>()[0] != '/') {
        return where + ".pidfile: expected an absolute path, got '" +
               spec["pidfile"].get<std::string>() + "'";
      }
    }
    return "";
  }
  if (key == "faultline_services") {
    if (!StructuredFromString(v, &why)) return key + ": " + why;
    if (!v->is_object()) {
      return "faultline_services: expected a mapping of service names to {start: ..., stop: ..., "
             "status: ...}";
    }
    static const std::vector<std::string> kKeys = {"start", "stop", "status"};
    for (auto& [name, spec] : v->items()) {
      const std::string where = "faultline_services." + name;
      if (!spec.is_object())
        return where + ": expected a mapping with start and stop (and optionally status)";
      for (auto& [k, val] : spec.items()) {
        if (std::find(kKeys.begin(), kKeys.end(), k) == kKeys.end()) {
          return where + ": " + UnknownNameMessage("key", k, "", kKeys);
        }
        if (!IsCommand(val))
          return where + "." + k + ": expected a command (a string or a list of words)";
      }
      for (const char* req : {"start", "stop"}) {
        if (!spec.contains(req))
          return where + ": missing '" + req + "' (a service needs start and stop commands)";
      }
    }
    return "";
  }
  if (key == "faultline_agent_lease") {
    // The agent driver also takes a bare number of seconds.
    if (v->is_number() && v->get<double>() > 0) return "";
    if (!v->is_string() || !ParseDuration(v->get<std::string>(), &why)) {
      return key + ": " +
             (why.empty() ? "expected a duration such as 10s, got " + SafeDump(*v) : why);
    }
    return "";
  }
  if (key == "faultline_agent_state_dir" || key == "faultline_ssh_known_hosts" ||
      key == "faultline_log_dir" || key == "faultline_data_dir" || key == "faultline_lab_state" ||
      key == "faultline_jump_host" || key == "faultline_ssh_password_env" ||
      key == "faultline_coord") {
    if (!v->is_string()) return key + ": expected a string, got " + SafeDump(*v);
    return "";
  }
  if (key == "faultline_logs") {
    if (!StructuredFromString(v, &why)) return key + ": " + why;
    if (!v->is_object()) return "faultline_logs: expected a mapping of names to log file paths";
    return "";
  }
  // An unknown faultline_* name is refused only when it looks like a typo of a known one:
  // other parts may read variables this list does not know yet.
  if (key.rfind("faultline_", 0) == 0 &&
      std::find(FaultlineVarNames().begin(), FaultlineVarNames().end(), key) ==
          FaultlineVarNames().end() &&
      !NearestName(key, FaultlineVarNames()).empty()) {
    return UnknownNameMessage("faultline variable", key, "", FaultlineVarNames());
  }
  return "";
}

// ---- the builder both formats feed ----------------------------------------------------

class Builder {
 public:
  explicit Builder(std::string file) : file_(std::move(file)) {}

  void Error(const SourceMark& m, const std::string& msg) {
    errors_.push_back(m.ToString() + ": " + msg);
  }
  bool HasErrors() const { return !errors_.empty(); }
  const std::string& file() const { return file_; }

  RawGroup& Group(const std::string& name, const SourceMark& mark) {
    auto [it, added] = groups_.try_emplace(name);
    if (added) {
      it->second.name = name;
      it->second.mark = mark;
      order_.push_back(name);
    }
    return it->second;
  }

  RawHost& Host(const std::string& name, const SourceMark& mark) {
    auto [it, added] = hosts_.try_emplace(name);
    if (added) {
      it->second.name = name;
      it->second.mark = mark;
    }
    return it->second;
  }

  void AddHost(const std::string& group, const std::string& host, const SourceMark& mark) {
    RawGroup& g = Group(group, mark);
    g.declared = true;
    Host(host, mark);
    if (std::find(g.hosts.begin(), g.hosts.end(), host) == g.hosts.end()) g.hosts.push_back(host);
  }

  void AddChild(const std::string& parent, const std::string& child, const SourceMark& mark) {
    if (parent == child) {
      Error(mark, "group '" + child + "' cannot be its own child");
      return;
    }
    if (child == "all") {
      Error(mark, "group 'all' cannot be the child of another group");
      return;
    }
    RawGroup& p = Group(parent, mark);
    p.declared = true;
    Group(child, mark).declared = true;
    if (std::find(p.children.begin(), p.children.end(), child) == p.children.end())
      p.children.push_back(child);
  }

  void SetVar(std::map<std::string, RawVar>* vars, const std::string& key, nlohmann::json value,
              const SourceMark& mark) {
    std::string why = NormaliseVar(key, &value);
    if (!why.empty()) Error(mark, why);
    (*vars)[key] = RawVar{std::move(value), mark};
  }

  Status Finish(Inventory* out);

 private:
  std::string file_;
  std::map<std::string, RawGroup> groups_;
  std::vector<std::string> order_;
  std::map<std::string, RawHost> hosts_;
  std::vector<std::string> errors_;
};

Status Builder::Finish(Inventory* out) {
  SourceMark file_mark;
  file_mark.file = file_;
  Group("all", file_mark).declared = true;
  Group("ungrouped", file_mark).declared = true;

  for (const auto& name : order_) {
    const RawGroup& g = groups_.at(name);
    if (g.has_vars_section && !g.declared) {
      Error(g.vars_mark, "[" + name + ":vars] names group '" + name +
                             "', which is not defined anywhere (expected a [" + name + "] or [" +
                             name + ":children] section)");
    }
  }

  std::map<std::string, std::vector<std::string>> parents;
  for (const auto& [name, g] : groups_) {
    for (const auto& c : g.children) parents[c].push_back(name);
  }
  for (const auto& [name, g] : groups_) {
    if (name != "all" && parents[name].empty()) {
      groups_["all"].children.push_back(name);
      parents[name].push_back("all");
    }
  }

  // Children must not loop back: Ansible refuses such an inventory too.
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  bool cycle = false;
  std::function<void(const std::string&)> visit = [&](const std::string& g) {
    if (cycle) return;
    state[g] = 1;
    path.push_back(g);
    for (const auto& c : groups_[g].children) {
      if (state[c] == 1) {
        auto from = std::find(path.begin(), path.end(), c);
        std::vector<std::string> loop(from, path.end());
        loop.push_back(c);
        Error(groups_[c].mark, "groups form a loop through children: " + JoinNames(loop, " -> "));
        cycle = true;
        return;
      }
      if (state[c] == 0) visit(c);
      if (cycle) return;
    }
    path.pop_back();
    state[g] = 2;
  };
  for (const auto& name : order_) {
    if (state[name] == 0) visit(name);
    if (cycle) break;
  }
  if (cycle) return Status::Invalid(JoinNames(errors_, "\n"));

  // Depth from `all` (longest chain of parents): Ansible merges group variables by
  // (depth, name), so a child group's value beats its parent's.
  std::map<std::string, int> depth;
  std::function<int(const std::string&)> depth_of = [&](const std::string& g) -> int {
    if (g == "all") return 0;
    auto it = depth.find(g);
    if (it != depth.end()) return it->second;
    int d = 0;
    for (const auto& p : parents[g]) d = std::max(d, depth_of(p) + 1);
    depth[g] = d;
    return d;
  };

  // Ancestors of each group, itself included.
  std::function<void(const std::string&, std::set<std::string>*)> ancestors =
      [&](const std::string& g, std::set<std::string>* acc) {
        if (!acc->insert(g).second) return;
        for (const auto& p : parents[g]) ancestors(p, acc);
      };

  std::map<std::string, std::set<std::string>> host_groups;
  for (const auto& [name, g] : groups_) {
    for (const auto& h : g.hosts) ancestors(name, &host_groups[h]);
  }
  for (const auto& [name, h] : hosts_) {
    auto& gs = host_groups[name];
    gs.insert("all");
    bool other = std::any_of(gs.begin(), gs.end(),
                             [](const std::string& g) { return g != "all" && g != "ungrouped"; });
    if (!other) gs.insert("ungrouped");
  }

  out->hosts.clear();
  out->groups.clear();
  for (const auto& [name, raw] : hosts_) {
    InventoryHost host;
    host.name = name;
    host.mark = raw.mark;
    std::vector<std::string> gs(host_groups[name].begin(), host_groups[name].end());
    std::stable_sort(gs.begin(), gs.end(), [&](const std::string& a, const std::string& b) {
      int da = depth_of(a), db = depth_of(b);
      return da != db ? da < db : a < b;
    });
    for (const auto& g : gs) {
      for (const auto& [k, v] : groups_[g].vars) host.vars[k] = v.value;
    }
    for (const auto& [k, v] : raw.vars) host.vars[k] = v.value;
    std::sort(gs.begin(), gs.end());
    host.groups = gs;
    if (host.transport() == "netns" && host.VarString("faultline_netns").empty()) {
      Error(raw.mark,
            "host '" + name + "' uses faultline_transport netns but has no faultline_netns");
    }
    out->hosts.emplace(name, std::move(host));
  }
  for (const auto& [name, raw] : groups_) {
    InventoryGroup g;
    g.name = name;
    g.mark = raw.mark;
    g.children = raw.children;
    for (const auto& [k, v] : raw.vars) g.vars[k] = v.value;
    for (const auto& [hname, gs] : host_groups) {
      if (gs.count(name) && hosts_.count(hname)) g.hosts.push_back(hname);
    }
    out->groups.emplace(name, std::move(g));
  }
  if (!errors_.empty()) return Status::Invalid(JoinNames(errors_, "\n"));
  return Status::Ok();
}

// ---- INI ------------------------------------------------------------------------------

struct Token {
  std::string raw;  // as written, quotes included
  int column = 0;   // 1-based
};

// Splits a host line the way shlex does, keeping each token's column; '#' at the start
// of a token begins a comment.
bool SplitIniLine(const std::string& line, std::vector<Token>* out, std::string* why) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size() || line[i] == '#' || line[i] == ';') break;
    Token t;
    t.column = static_cast<int>(i) + 1;
    char quote = 0;
    while (i < line.size() && (quote || !std::isspace(static_cast<unsigned char>(line[i])))) {
      char c = line[i];
      if (quote) {
        if (c == '\\' && quote == '"' && i + 1 < line.size()) {
          t.raw += c;
          t.raw += line[++i];
        } else {
          t.raw += c;
          if (c == quote) quote = 0;
        }
      } else {
        if (c == '"' || c == '\'') quote = c;
        t.raw += c;
      }
      ++i;
    }
    if (quote) {
      *why = std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote";
      return false;
    }
    out->push_back(t);
  }
  return true;
}

// Removes shlex quoting from text.
std::string Unquote(const std::string& s) {
  std::string out;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size())
        out += s[++i];
      else
        out += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else {
      out += c;
    }
  }
  return out;
}

// An inline host variable: Ansible evaluates it as a Python literal (numbers, True/False,
// None, lists, dicts, quoted strings) and keeps anything else as a string.
nlohmann::json IniLiteral(const std::string& raw) {
  if (raw.size() >= 2 && (raw.front() == '"' || raw.front() == '\'') && raw.back() == raw.front()) {
    return Unquote(raw);
  }
  std::string s = Unquote(raw);
  if (s == "True") return true;
  if (s == "False") return false;
  if (s == "None") return nullptr;
  if (!s.empty() && (s.front() == '[' || s.front() == '{' || s.front() == '(')) {
    std::string y = s;
    if (y.front() == '(' && y.back() == ')') y = "[" + y.substr(1, y.size() - 2) + "]";
    try {
      YAML::Node n = YAML::Load(y);
      if (n.IsSequence() || n.IsMap()) return YamlToJson(n, YamlTyping::kCore12);
    } catch (const YAML::Exception&) {
    }
    return s;
  }
  nlohmann::json j = TypePlainScalar(s, YamlTyping::kCore12);
  if (j.is_number()) return j;
  return s;
}

void ParseIni(const std::string& text, Builder* b) {
  enum class Kind { kHosts, kChildren, kVars };
  Kind kind = Kind::kHosts;
  std::string group = "ungrouped";
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  auto mark = [&](int col) {
    SourceMark m;
    m.file = b->file();
    m.line = lineno;
    m.column = col;
    return m;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';') continue;
    int col = static_cast<int>(first) + 1;
    std::string t = Trim(line);
    if (t[0] == '[') {
      size_t close = t.find(']');
      std::string rest = close == std::string::npos ? "" : Trim(t.substr(close + 1));
      if (close == std::string::npos || (!rest.empty() && rest[0] != '#' && rest[0] != ';')) {
        b->Error(mark(col), "bad section header '" + t +
                                "': expected [group], [group:children] or [group:vars]");
        kind = Kind::kHosts;
        group = "";
        continue;
      }
      std::string head = t.substr(1, close - 1);
      std::string name = head, mod;
      if (size_t c = head.find(':'); c != std::string::npos) {
        name = head.substr(0, c);
        mod = head.substr(c + 1);
      }
      if (name.empty() || name.find_first_of(" \t") != std::string::npos) {
        b->Error(mark(col + 1), "bad group name '" + name + "': expected a name without spaces");
        group = "";
        continue;
      }
      group = name;
      if (mod.empty()) {
        kind = Kind::kHosts;
        b->Group(name, mark(col + 1)).declared = true;
      } else if (mod == "children") {
        kind = Kind::kChildren;
        b->Group(name, mark(col + 1)).declared = true;
      } else if (mod == "vars") {
        kind = Kind::kVars;
        RawGroup& g = b->Group(name, mark(col + 1));
        if (!g.has_vars_section) g.vars_mark = mark(col);
        g.has_vars_section = true;
      } else {
        b->Error(mark(col + 1 + static_cast<int>(name.size()) + 1),
                 UnknownNameMessage("section type", mod, "[" + head + "]", {"children", "vars"}));
        group = "";
      }
      continue;
    }
    if (group.empty()) continue;  // inside a section already reported as broken
    if (kind == Kind::kVars) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) {
        b->Error(mark(col), "expected key=value in [" + group + ":vars], got '" + t + "'");
        continue;
      }
      std::string key = Trim(line.substr(0, eq));
      std::string value = Trim(line.substr(eq + 1));
      if (key.empty() || key.find_first_of(" \t") != std::string::npos) {
        b->Error(mark(col), "bad variable name '" + key + "' in [" + group + ":vars]");
        continue;
      }
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      size_t vcol = line.find_first_not_of(" \t", eq + 1);
      b->SetVar(
          &b->Group(group, mark(col)).vars, key, value,
          mark(vcol == std::string::npos ? static_cast<int>(eq) + 2 : static_cast<int>(vcol) + 1));
      continue;
    }
    std::vector<Token> tokens;
    std::string why;
    if (!SplitIniLine(line, &tokens, &why)) {
      b->Error(mark(col), why);
      continue;
    }
    if (tokens.empty()) continue;
    if (kind == Kind::kChildren) {
      if (tokens.size() != 1) {
        b->Error(mark(tokens[1].column),
                 "expected one group name per line in [" + group + ":children], got '" + t + "'");
        continue;
      }
      b->AddChild(group, Unquote(tokens[0].raw), mark(tokens[0].column));
      continue;
    }
    // A host line: a name (or range), an optional :port, then key=value pairs.
    std::string pattern = Unquote(tokens[0].raw);
    std::string port;
    {
      int depth = 0;
      size_t colon = std::string::npos;
      for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '[')
          ++depth;
        else if (pattern[i] == ']')
          --depth;
        else if (pattern[i] == ':' && depth == 0)
          colon = i;
      }
      if (colon != std::string::npos) {
        port = pattern.substr(colon + 1);
        pattern = pattern.substr(0, colon);
        if (!AllDigits(port)) {
          b->Error(mark(tokens[0].column + static_cast<int>(colon) + 1),
                   "expected a port number after ':' in host '" + tokens[0].raw + "', got '" +
                       port + "'");
          continue;
        }
      }
    }
    std::vector<std::string> names;
    if (!ExpandHostPattern(pattern, &names, &why)) {
      b->Error(mark(tokens[0].column), why);
      continue;
    }
    std::vector<std::pair<std::string, std::pair<nlohmann::json, SourceMark>>> vars;
    bool bad = false;
    for (size_t i = 1; i < tokens.size(); ++i) {
      size_t eq = tokens[i].raw.find('=');
      if (eq == std::string::npos || eq == 0) {
        b->Error(mark(tokens[i].column), "expected key=value after host '" + tokens[0].raw +
                                             "', got '" + tokens[i].raw + "'");
        bad = true;
        break;
      }
      vars.push_back({tokens[i].raw.substr(0, eq),
                      {IniLiteral(tokens[i].raw.substr(eq + 1)),
                       mark(tokens[i].column + static_cast<int>(eq) + 1)}});
    }
    if (bad) continue;
    for (const auto& name : names) {
      b->AddHost(group, name, mark(tokens[0].column));
      RawHost& h = b->Host(name, mark(tokens[0].column));
      if (!port.empty())
        b->SetVar(&h.vars, "ansible_port", std::stoll(port.substr(0, 7)), mark(tokens[0].column));
      for (const auto& [k, v] : vars) b->SetVar(&h.vars, k, v.first, v.second);
    }
  }
}

// ---- YAML -----------------------------------------------------------------------------

bool CheckMapKeys(Builder* b, const YAML::Node& map, const std::string& where) {
  std::set<std::string> seen;
  bool ok = true;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      b->Error(MarkOf(b->file(), kv.first), "expected a name as key in " + where);
      ok = false;
      continue;
    }
    if (!seen.insert(kv.first.Scalar()).second) {
      b->Error(MarkOf(b->file(), kv.first),
               "duplicate key '" + kv.first.Scalar() + "' in " + where);
      ok = false;
    }
  }
  return ok;
}

void ParseYamlVars(Builder* b, const YAML::Node& node, const std::string& where,
                   std::map<std::string, RawVar>* vars) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    b->Error(MarkOf(b->file(), node), "expected a mapping of variables in " + where);
    return;
  }
  if (!CheckMapKeys(b, node, where)) return;
  for (const auto& kv : node) {
    b->SetVar(vars, kv.first.Scalar(), YamlToJson(kv.second, YamlTyping::kYaml11),
              MarkOf(b->file(), kv.second));
  }
}

void ParseYamlGroup(Builder* b, const std::string& name, const YAML::Node& key,
                    const YAML::Node& node, const std::string& parent, int depth) {
  SourceMark gmark = MarkOf(b->file(), key);
  if (depth > 64) {
    b->Error(gmark, "groups nested more than 64 deep");
    return;
  }
  b->Group(name, gmark).declared = true;
  if (!parent.empty()) b->AddChild(parent, name, gmark);
  if (node.IsNull()) return;
  const std::string where = "group '" + name + "'";
  if (!node.IsMap()) {
    b->Error(MarkOf(b->file(), node),
             "expected " + where + " to be a mapping with hosts, vars or children");
    return;
  }
  if (!CheckMapKeys(b, node, where)) return;
  static const std::vector<std::string> kKeys = {"hosts", "vars", "children"};
  for (const auto& kv : node) {
    const std::string& k = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (k == "hosts") {
      if (v.IsNull()) continue;
      if (!v.IsMap()) {
        b->Error(MarkOf(b->file(), v), "expected the hosts of " + where +
                                           " as a mapping (each host name followed by ':'), got " +
                                           (v.IsSequence() ? "a list" : "a single value"));
        continue;
      }
      if (!CheckMapKeys(b, v, "hosts of " + where)) continue;
      for (const auto& hv : v) {
        std::vector<std::string> names;
        std::string why;
        SourceMark hmark = MarkOf(b->file(), hv.first);
        if (!ExpandHostPattern(hv.first.Scalar(), &names, &why)) {
          b->Error(hmark, why);
          continue;
        }
        for (const auto& h : names) {
          b->AddHost(name, h, hmark);
          ParseYamlVars(b, hv.second, "host '" + h + "'", &b->Host(h, hmark).vars);
        }
      }
    } else if (k == "vars") {
      ParseYamlVars(b, v, where, &b->Group(name, gmark).vars);
    } else if (k == "children") {
      if (v.IsNull()) continue;
      if (!v.IsMap()) {
        b->Error(MarkOf(b->file(), v),
                 "expected the children of " + where + " as a mapping of group names");
        continue;
      }
      if (!CheckMapKeys(b, v, "children of " + where)) continue;
      for (const auto& cv : v)
        ParseYamlGroup(b, cv.first.Scalar(), cv.first, cv.second, name, depth + 1);
    } else {
      b->Error(MarkOf(b->file(), kv.first), UnknownNameMessage("key", k, where, kKeys));
    }
  }
}

void ParseYamlInventory(const YAML::Node& root, Builder* b) {
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    b->Error(MarkOf(b->file(), root),
             "expected a mapping of groups (usually 'all:') at the top of a YAML inventory");
    return;
  }
  if (!CheckMapKeys(b, root, "the inventory")) return;
  for (const auto& kv : root) ParseYamlGroup(b, kv.first.Scalar(), kv.first, kv.second, "", 0);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Ansible tries its YAML plugin for .yml/.yaml/.json files and INI for the rest; a file
// with no telling extension is judged by its first meaningful line.
bool LooksLikeYaml(const std::string& text, const std::string& file) {
  std::string lower = Lower(file);
  if (EndsWith(lower, ".yml") || EndsWith(lower, ".yaml") || EndsWith(lower, ".json")) return true;
  if (EndsWith(lower, ".ini") || EndsWith(lower, ".cfg") || EndsWith(lower, ".hosts")) return false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t == "---" || t[0] == '{') return true;
    if (t[0] == '[') return false;
    // "all:" or "zookeeper:" opens a YAML group; an INI host line has no trailing colon.
    return t.back() == ':' && t.find_first_of(" \t=") == std::string::npos;
  }
  return false;
}

}  // namespace

Status LoadInventoryText(const std::string& text, const std::string& file_name, Inventory* out) {
  Builder b(file_name);
  out->path = file_name;
  if (auto bad = FirstInvalidUtf8(text, file_name)) {
    return Status::Invalid(bad->ToString() + ": expected UTF-8 text, found a byte that is not");
  }
  if (LooksLikeYaml(text, file_name)) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      return Status::Invalid(MarkOf(file_name, e.mark).ToString() + ": " + e.msg);
    } catch (const YAML::Exception& e) {
      return Status::Invalid(file_name + ": " + e.msg);
    }
    ParseYamlInventory(root, &b);
  } else {
    ParseIni(text, &b);
  }
  return b.Finish(out);
}

Status LoadInventory(const std::string& path, Inventory* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid(path + ": cannot read the inventory file");
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadInventoryText(ss.str(), path, out);
}

}  // namespace faultline

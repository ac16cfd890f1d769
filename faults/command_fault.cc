#include "faults/command_fault.h"

#include <algorithm>
#include <memory>

#include "base/duration.h"
#include "base/shell.h"

namespace faultline {

bool ParseCommandWords(const nlohmann::json& value, std::vector<std::string>* argv, std::string* why) {
  argv->clear();
  if (value.is_array()) {
    auto add = [&](const nlohmann::json& item, bool nested) {
      if (item.is_string()) {
        argv->push_back(item.get<std::string>());
      } else if (item.is_number()) {
        argv->push_back(item.dump());
      } else {
        if (why) *why = "expected every element of the command list to be a string" +
                        std::string(nested ? "" : " or a list of strings") + ", found " + item.type_name();
        return false;
      }
      return true;
    };
    for (const auto& item : value) {
      // A list inside the list is spliced in: an inventory variable that holds a command
      // as a list of words (${host.faultline_services.zookeeper.stop}) fits in as words.
      if (item.is_array()) {
        for (const auto& word : item) {
          if (!add(word, true)) return false;
        }
      } else if (!add(item, false)) {
        return false;
      }
    }
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (quote == '\'') {
        if (c == '\'') quote = 0; else word += c;
      } else if (quote == '"') {
        if (c == '"') quote = 0;
        else if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) word += text[++i];
        else word += c;
      } else if (c == '\'' || c == '"') {
        quote = c;
        in_word = true;
      } else if (c == '\\') {
        if (i + 1 == text.size()) {
          if (why) *why = "the command ends with a lone backslash";
          return false;
        }
        word += text[++i];
        in_word = true;
      } else if (c == ' ' || c == '\t' || c == '\n') {
        if (in_word) argv->push_back(word);
        word.clear();
        in_word = false;
      } else {
        word += c;
        in_word = true;
      }
    }
    if (quote) {
      if (why) *why = std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote in command";
      return false;
    }
    if (in_word) argv->push_back(word);
  } else {
    if (why) *why = "expected a command as a list of words or a string, found " + std::string(value.type_name());
    return false;
  }
  if (argv->empty()) {
    if (why) *why = "expected a command, found an empty one";
    return false;
  }
  return true;
}

bool ParseCommandSequence(const nlohmann::json& value, std::vector<std::vector<std::string>>* commands,
                          std::string* why) {
  commands->clear();
  const bool all_lists = value.is_array() && !value.empty() &&
                         std::all_of(value.begin(), value.end(), [](const nlohmann::json& i) { return i.is_array(); });
  if (!all_lists) {
    commands->emplace_back();
    return ParseCommandWords(value, &commands->back(), why);
  }
  for (size_t i = 0; i < value.size(); ++i) {
    commands->emplace_back();
    std::string w;
    if (!ParseCommandWords(value[i], &commands->back(), &w)) {
      if (why) *why = "command " + std::to_string(i + 1) + " of " + std::to_string(value.size()) + ": " + w;
      return false;
    }
  }
  return true;
}

namespace {

std::string Substitute(std::string word, const FaultInstance& fault) {
  auto replace_all = [&word](const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = word.find(from, pos)) != std::string::npos; pos += to.size()) {
      word.replace(pos, from.size(), to);
    }
  };
  std::string address = fault.host;
  if (fault.host_vars.is_object() && fault.host_vars.contains("ansible_host") &&
      fault.host_vars["ansible_host"].is_string()) {
    address = fault.host_vars["ansible_host"].get<std::string>();
  }
  replace_all("${host}", fault.host);
  replace_all("${address}", address);
  return word;
}

class CommandDriver : public FaultDriver {
 public:
  Status Inject(const FaultInstance& fault, Transport& transport, InjectOutcome* out) override {
    std::vector<std::vector<std::string>> inject;
    std::vector<std::string> check;
    FAULTLINE_RETURN_IF_ERROR(Commands(fault, "inject", &inject));
    bool has_check = fault.params.contains("check");
    if (has_check) {
      FAULTLINE_RETURN_IF_ERROR(Command(fault, "check", &check));
      bool held = false;
      FAULTLINE_RETURN_IF_ERROR(Check(fault, transport, check, &held));
      if (held) {
        out->detail = "already in place (check: " + ShellJoin(check) + "); nothing run";
        return Status::Ok();
      }
    }
    FAULTLINE_RETURN_IF_ERROR(RunAll(fault, transport, inject, "inject", &out->detail));
    if (has_check) {
      bool held = false;
      FAULTLINE_RETURN_IF_ERROR(Check(fault, transport, check, &held));
      if (!held) {
        return Status::Unavailable(fault.host + ": fault " + fault.fault + ": inject command succeeded but check " +
                                   ShellJoin(check) + " says the fault is not in place (expected exit status 0)");
      }
      out->detail += "; check confirms it";
    }
    return Status::Ok();
  }

  Status Revert(const FaultInstance& fault, Transport& transport, std::string* detail) override {
    std::vector<std::vector<std::string>> revert;
    std::vector<std::string> check;
    FAULTLINE_RETURN_IF_ERROR(Commands(fault, "revert", &revert));
    bool has_check = fault.params.contains("check");
    if (has_check) {
      FAULTLINE_RETURN_IF_ERROR(Command(fault, "check", &check));
      bool held = true;
      FAULTLINE_RETURN_IF_ERROR(Check(fault, transport, check, &held));
      if (!held) {
        *detail = "not in place (check: " + ShellJoin(check) + "); nothing run";
        return Status::Ok();
      }
    }
    FAULTLINE_RETURN_IF_ERROR(RunAll(fault, transport, revert, "revert", detail));
    if (has_check) {
      bool held = true;
      FAULTLINE_RETURN_IF_ERROR(Check(fault, transport, check, &held));
      if (held) {
        return Status::Unavailable(fault.host + ": fault " + fault.fault + ": revert command succeeded but check " +
                                   ShellJoin(check) + " still says the fault is in place (expected a non-zero exit)");
      }
      *detail += "; check confirms it is gone";
    }
    return Status::Ok();
  }

 private:
  // `check` is one command, not a list of them.
  static Status Command(const FaultInstance& fault, const char* key, std::vector<std::string>* argv) {
    std::vector<std::vector<std::string>> commands;
    FAULTLINE_RETURN_IF_ERROR(Commands(fault, key, &commands));
    if (commands.size() != 1) {
      return Status::Invalid("fault " + fault.fault + ": " + key + ": expected one command, found a list of " +
                             std::to_string(commands.size()));
    }
    *argv = std::move(commands[0]);
    return Status::Ok();
  }

  // inject and revert may be a list of commands, run in order until one fails.
  static Status Commands(const FaultInstance& fault, const char* key, std::vector<std::vector<std::string>>* out) {
    if (!fault.params.contains(key)) {
      return Status::Invalid("fault " + fault.fault + ": action command needs '" + key + "'");
    }
    std::string why;
    if (!ParseCommandSequence(fault.params[key], out, &why)) {
      return Status::Invalid("fault " + fault.fault + ": " + key + ": " + why);
    }
    for (auto& argv : *out) {
      for (auto& word : argv) word = Substitute(word, fault);
    }
    return Status::Ok();
  }

  static Status RunAll(const FaultInstance& fault, Transport& transport,
                       const std::vector<std::vector<std::string>>& commands, const char* what, std::string* detail) {
    std::string ran;
    for (size_t i = 0; i < commands.size(); ++i) {
      Status st = RunOk(fault, transport, commands[i], what);
      if (!st.ok()) {
        if (commands.size() == 1) return st;
        return st.Append(" (command " + std::to_string(i + 1) + " of " + std::to_string(commands.size()) +
                         (ran.empty() ? "" : "; ran " + ran) + ")");
      }
      ran += (ran.empty() ? "" : "; ") + ShellJoin(commands[i]);
    }
    *detail = "ran " + ran;
    return Status::Ok();
  }

  static Millis Timeout(const FaultInstance& fault) {
    if (fault.params.contains("timeout") && fault.params["timeout"].is_string()) {
      if (auto d = ParseDuration(fault.params["timeout"].get<std::string>())) return *d;
    }
    return Millis(30000);
  }

  static Status RunOk(const FaultInstance& fault, Transport& transport, const std::vector<std::string>& argv,
                      const char* what) {
    ExecRequest req;
    req.argv = argv;
    req.timeout = Timeout(fault);
    ExecResult res;
    Status st = transport.Exec(req, &res);
    if (!st.ok()) return st.Annotate("fault " + fault.fault + ": " + what);
    if (res.exit_status != 0) {
      std::string err = res.stderr_data;
      while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
      return Status::Unavailable(fault.host + ": fault " + fault.fault + ": " + what + " command " + ShellJoin(argv) +
                                 " exited with status " + std::to_string(res.exit_status) +
                                 " (expected 0)" + (err.empty() ? "" : ": " + err));
    }
    return Status::Ok();
  }

  static Status Check(const FaultInstance& fault, Transport& transport, const std::vector<std::string>& argv,
                      bool* held) {
    ExecRequest req;
    req.argv = argv;
    req.timeout = Timeout(fault);
    ExecResult res;
    Status st = transport.Exec(req, &res);
    if (!st.ok()) return st.Annotate("fault " + fault.fault + ": check");
    *held = res.exit_status == 0;
    return Status::Ok();
  }
};

}  // namespace

void RegisterCommandFault() {
  FaultActionInfo info;
  info.name = "command";
  info.summary = "run the drill's own inject command on the target, and its revert command afterwards";
  info.params = {
      {"inject", FaultParam::Kind::kCommand, true,
       "command that applies the fault (argv list or words), or a list of commands run in order", ""},
      {"revert", FaultParam::Kind::kCommand, true,
       "command (or list of commands) that undoes it; must be safe to run twice", ""},
      {"check", FaultParam::Kind::kCommand, false,
       "command that exits 0 while the fault is in place (makes inject and revert idempotent and verified)", ""},
      {"timeout", FaultParam::Kind::kDuration, false, "limit for each command (default 30s)", ""},
      {"removes_host", FaultParam::Kind::kBool, false,
       "true if the fault takes the host out of its quorum group (counted by the safety rule)", ""},
  };
  info.removes_host = false;
  FaultCatalogue::Global().Register(std::move(info), [] { return std::make_unique<CommandDriver>(); });
}

}  // namespace faultline

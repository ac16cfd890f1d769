#include "orchestrator/report/diff.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <cstring>

#include "orchestrator/report/format.h"
#include "orchestrator/report/junit.h"

namespace faultline {

using namespace report;  // the shared text helpers of format.h

namespace {

namespace fs = std::filesystem;

constexpr double kMinimumSlowdownMs = 1000.0;

std::string LineColumn(const std::string& text, size_t byte) {
  // nlohmann reports the 1-based position of the byte it failed on.
  size_t end = std::min(text.size(), byte > 0 ? byte - 1 : 0);
  int line = 1, column = 1;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

struct Checks {
  // id -> (verdict, recovery); "faults reverted" included.
  std::vector<std::string> order;
  std::map<std::string, std::pair<JournalVerdict::Result, std::optional<double>>> by_id;
};

Checks ChecksOf(const Journal& j) {
  Checks c;
  for (const auto& v : j.verdicts) {
    if (c.by_id.emplace(v.id, std::make_pair(v.result, v.recovery_ms)).second) {
      c.order.push_back(v.id);
    }
  }
  auto reverted = AllReverted(j) ? JournalVerdict::Result::kPass : JournalVerdict::Result::kFail;
  if (c.by_id.emplace(kRevertedCaseName, std::make_pair(reverted, std::nullopt)).second) {
    c.order.push_back(kRevertedCaseName);
  }
  return c;
}

std::string Change(const DiffRow& r) {
  if (!r.old_ms || !r.new_ms) return "-";
  double d = *r.new_ms - *r.old_ms;
  std::string s = (d >= 0 ? "+" : "") + FormatSpan(d);
  if (*r.old_ms > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " (×%.2f)", *r.new_ms / *r.old_ms);
    s += buf;
  }
  return s;
}

std::string Pad(const std::string& s, size_t width) {
  size_t w = DisplayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

}  // namespace

Status LoadJournalFile(const std::string& path, Journal* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid(path + ": cannot open: " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: "
    // prefix: the position is given in the usual file:line:col form instead.
    if (auto colon = what.find(": "); what.rfind("[json.exception", 0) == 0 && colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    return Status::Invalid(path + ":" + LineColumn(text, e.byte) +
                           ": not a valid JSON journal: " + what);
  }
  Status st = FromJson(json, out);
  if (!st.ok()) return Status::Invalid(path + ": " + st.message());
  return Status::Ok();
}

Status LoadJournals(const std::string& path, std::vector<JournalFile>* out) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return Status::Invalid(path + ": no such file or directory");
  std::vector<std::string> files;
  if (fs::is_directory(status)) {
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".json") {
        files.push_back(it->path().string());
      }
    }
    if (ec) return Status::Invalid(path + ": cannot list: " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) return Status::Invalid(path + ": no journals (*.json) in this directory");
  } else {
    files.push_back(path);
  }
  std::map<std::string, std::string> seen;  // drill -> file
  out->clear();
  for (const auto& f : files) {
    JournalFile jf;
    jf.path = f;
    FAULTLINE_RETURN_IF_ERROR(LoadJournalFile(f, &jf.journal));
    auto [it, fresh] = seen.emplace(jf.journal.drill, f);
    if (!fresh) {
      return Status::Invalid(f + ": drill " + jf.journal.drill + " is also in " + it->second +
                             "; compare one run at a time");
    }
    out->push_back(std::move(jf));
  }
  return Status::Ok();
}

DiffResult DiffJournals(const std::vector<Journal>& old_set, const std::vector<Journal>& new_set,
                        double factor) {
  std::map<std::string, const Journal*> old_by_drill;
  for (const auto& j : old_set) old_by_drill.emplace(j.drill, &j);

  DiffResult result;
  std::map<std::string, bool> new_drills;
  auto judge = [&](DiffRow& r) {
    if (r.old_ms && r.new_ms) {
      r.slower = *r.new_ms > *r.old_ms * factor && *r.new_ms > *r.old_ms + kMinimumSlowdownMs;
    }
    if (r.old_result && r.new_result && *r.old_result != *r.new_result) {
      r.verdict_worse = *r.old_result == JournalVerdict::Result::kPass &&
                        *r.new_result == JournalVerdict::Result::kFail;
      r.verdict_changed = !r.verdict_worse;
    }
    if (r.regression()) ++result.regressions;
  };

  for (const auto& nj : new_set) {
    new_drills[nj.drill] = true;
    Checks now = ChecksOf(nj);
    Checks then;
    auto o = old_by_drill.find(nj.drill);
    if (o != old_by_drill.end()) then = ChecksOf(*o->second);
    for (const auto& id : now.order) {
      DiffRow r;
      r.drill = nj.drill;
      r.id = id;
      r.in_new = true;
      r.new_result = now.by_id[id].first;
      r.new_ms = now.by_id[id].second;
      if (auto t = then.by_id.find(id); t != then.by_id.end()) {
        r.in_old = true;
        r.old_result = t->second.first;
        r.old_ms = t->second.second;
      }
      judge(r);
      result.rows.push_back(std::move(r));
    }
    for (const auto& id : then.order) {
      if (now.by_id.count(id)) continue;
      DiffRow r;
      r.drill = nj.drill;
      r.id = id;
      r.in_old = true;
      r.old_result = then.by_id[id].first;
      r.old_ms = then.by_id[id].second;
      result.rows.push_back(std::move(r));
    }
  }
  for (const auto& oj : old_set) {
    if (new_drills.count(oj.drill)) continue;
    Checks then = ChecksOf(oj);
    for (const auto& id : then.order) {
      DiffRow r;
      r.drill = oj.drill;
      r.id = id;
      r.in_old = true;
      r.old_result = then.by_id[id].first;
      r.old_ms = then.by_id[id].second;
      result.rows.push_back(std::move(r));
    }
  }
  return result;
}

std::string FormatDiff(const DiffResult& diff, double factor) {
  struct Line {
    std::string cells[7];
  };
  std::vector<Line> lines;
  lines.push_back({{"DRILL", "EXPECTATION", "OLD", "NEW", "CHANGE", "VERDICT", "FLAG"}});
  for (const auto& r : diff.rows) {
    Line l;
    l.cells[0] = r.drill;
    l.cells[1] = r.id;
    l.cells[2] = r.old_ms ? FormatSpan(*r.old_ms) : "-";
    l.cells[3] = r.new_ms ? FormatSpan(*r.new_ms) : "-";
    l.cells[4] = Change(r);
    if (r.old_result && r.new_result && *r.old_result != *r.new_result) {
      l.cells[5] = std::string(ResultName(*r.old_result)) + " → " + ResultName(*r.new_result);
    } else if (r.new_result) {
      l.cells[5] = ResultName(*r.new_result);
    } else if (r.old_result) {
      l.cells[5] = ResultName(*r.old_result);
    }
    std::string flag;
    if (r.slower) flag = "REGRESSION: slower";
    if (r.verdict_worse) flag += std::string(flag.empty() ? "" : ", ") + "REGRESSION: now failing";
    if (flag.empty() && r.verdict_changed) flag = "verdict changed";
    if (flag.empty() && !r.in_old) flag = "new";
    if (flag.empty() && !r.in_new) flag = "only in old";
    if (flag.empty() && r.old_ms && r.new_ms && *r.new_ms * factor < *r.old_ms &&
        *r.new_ms + kMinimumSlowdownMs < *r.old_ms) {
      flag = "faster";
    }
    l.cells[6] = flag;
    lines.push_back(std::move(l));
  }
  size_t w[7] = {};
  for (const auto& l : lines) {
    for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], DisplayWidth(l.cells[i]));
  }
  std::string out;
  for (const auto& l : lines) {
    std::string s;
    for (int i = 0; i < 7; ++i) s += i == 6 ? l.cells[i] : Pad(l.cells[i], w[i]) + "  ";
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += SanitizeUtf8(s) + "\n";
  }
  char rule[96];
  std::snprintf(rule, sizeof rule, "slower than old × %.2f and by more than 1s, or pass → fail",
                factor);
  out += std::to_string(diff.regressions) + (diff.regressions == 1 ? " regression" : " regressions") +
         " (" + rule + ")\n";
  return out;
}

}  // namespace faultline

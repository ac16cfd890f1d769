#include "orchestrator/report/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "orchestrator/report/format.h"
#include "orchestrator/report/html.h"
#include "orchestrator/report/junit.h"

namespace faultline {

using namespace report;  // the shared text helpers of format.h

namespace {

namespace fs = std::filesystem;

// Writes next to the target and renames over it, after fsync: Jenkins or a reader never sees
// half a report, and a report said to be written survives the machine going down right after.
Status WriteFileAtomically(const std::string& path, const std::string& content) {
  fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      return Status::Unavailable("cannot create directory " + target.parent_path().string() +
                                 ": " + ec.message());
    }
  }
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Unavailable("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write " + path + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

std::string Pad(const std::string& s, size_t width) {
  size_t w = DisplayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string ClipCell(const std::string& s, size_t max_columns) {
  if (DisplayWidth(s) <= max_columns) return s;
  std::string out;
  size_t columns = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 && ++columns > max_columns - 1) break;
    out += c;
  }
  return out + "…";
}

}  // namespace

Status WriteReports(const std::vector<Journal>& journals, const ReportOptions& options,
                    ReportPaths* paths) {
  ReportPaths out;
  if (!options.dir.empty()) {
    std::set<std::string> used;
    for (const auto& j : journals) {
      // Two journals of one drill in one run (a drill given twice) must not overwrite each other.
      std::string base = FileSafeName(j.drill);
      std::string name = base;
      for (int n = 2; used.count(name) || name == "junit" || name == "report"; ++n) {
        name = base + "-" + std::to_string(n);
      }
      used.insert(name);
      std::string path = (fs::path(options.dir) / (name + ".json")).string();
      std::string text =
          ToJson(j).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      FAULTLINE_RETURN_IF_ERROR(WriteFileAtomically(path, text));
      out.journals.push_back(path);
    }
    out.html = (fs::path(options.dir) / "report.html").string();
    FAULTLINE_RETURN_IF_ERROR(WriteFileAtomically(out.html, HtmlReport(journals)));
  }
  std::string junit = options.junit_file;
  if (junit.empty() && !options.dir.empty()) {
    junit = (fs::path(options.dir) / "junit.xml").string();
  }
  if (!junit.empty()) {
    FAULTLINE_RETURN_IF_ERROR(WriteFileAtomically(junit, JUnitXml(journals)));
    out.junit = junit;
  }
  if (paths) *paths = std::move(out);
  return Status::Ok();
}

std::string VerdictTable(const std::vector<Journal>& journals) {
  struct Row {
    std::string drill, id, verdict, recovery, expected, observed;
  };
  std::vector<Row> rows;
  int pass = 0, fail = 0, unknown = 0;
  for (const auto& j : journals) {
    for (const auto& v : j.verdicts) {
      std::string verdict = ResultName(v.result);
      for (char& c : verdict) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      switch (v.result) {
        case JournalVerdict::Result::kPass: ++pass; break;
        case JournalVerdict::Result::kFail: ++fail; break;
        case JournalVerdict::Result::kUnknown: ++unknown; break;
      }
      std::string observed = v.observed;
      if (observed.empty() && v.observed_ms) observed = "at " + FormatOffset(*v.observed_ms);
      rows.push_back(Row{j.drill, v.id, verdict,
                         v.recovery_ms ? FormatSpan(*v.recovery_ms) : "-", v.expected, observed});
    }
    bool reverted = AllReverted(j);
    (reverted ? pass : fail)++;
    rows.push_back(Row{j.drill, kRevertedCaseName, reverted ? "PASS" : "FAIL", "-",
                       "every fault reverted",
                       reverted ? "all reverted"
                                : std::to_string(j.leftovers.size()) + " left behind"});
  }

  Row header{"DRILL", "EXPECTATION", "VERDICT", "RECOVERY", "EXPECTED", "OBSERVED"};
  constexpr size_t kMaxCell = 72;
  size_t w[6] = {};
  auto widen = [&](const Row& r) {
    const std::string* cells[6] = {&r.drill, &r.id, &r.verdict, &r.recovery, &r.expected,
                                   &r.observed};
    for (int i = 0; i < 6; ++i) w[i] = std::max(w[i], std::min(kMaxCell, DisplayWidth(*cells[i])));
  };
  widen(header);
  for (const auto& r : rows) widen(r);

  std::string out;
  auto line = [&](const Row& r) {
    const std::string* cells[6] = {&r.drill, &r.id, &r.verdict, &r.recovery, &r.expected,
                                   &r.observed};
    std::string l;
    for (int i = 0; i < 6; ++i) {
      std::string cell = ClipCell(SanitizeUtf8(*cells[i]), kMaxCell);
      l += i == 5 ? cell : Pad(cell, w[i]) + "  ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);

  for (const auto& j : journals) {
    for (const auto& f : j.faults) {
      if (f.reverted) continue;
      std::string hosts;
      for (const auto& h : f.hosts) hosts += (hosts.empty() ? "" : ",") + h;
      out += j.drill + ": NOT REVERTED: " + f.fault + " (" + f.action + ") on " + hosts + "\n";
    }
    for (const auto& l : j.leftovers) out += j.drill + ": LEFT BEHIND: " + SanitizeUtf8(l) + "\n";
    for (const auto& v : j.verdicts) {
      if (v.result != JournalVerdict::Result::kPass) {
        out += j.drill + " " + v.id + ": " + SanitizeUtf8(VerdictMessage(v)) + "\n";
      }
    }
    for (const auto& n : j.notes) out += j.drill + ": note: " + SanitizeUtf8(n) + "\n";
  }
  out += std::to_string(pass + fail + unknown) + " checks: " + std::to_string(pass) +
         " passed, " + std::to_string(fail) + " failed, " + std::to_string(unknown) +
         " unknown\n";
  return out;
}

}  // namespace faultline

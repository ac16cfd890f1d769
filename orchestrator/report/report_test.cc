// JUnit XML checked by xmllint against tests/report/junit.xsd, the console verdict table,
// WriteReports' files, and `faultline diff` on synthetic journals.
#include <gtest/gtest.h>

#include <filesystem>

#include "orchestrator/commands.h"
#include "orchestrator/report/diff.h"
#include "orchestrator/report/junit.h"
#include "orchestrator/report/report.h"
#include "orchestrator/report/report_testing.h"

namespace faultline {
namespace {

using testing::FailedFailoverJournal;
using testing::ReadFile;
using testing::RunProgram;
using testing::TempDir;
using testing::WriteFile;
using testing::ZkLeaderStopJournal;

std::string Xsd() { return testing::SourceRoot() + "/tests/report/junit.xsd"; }

testing::RunResult XmlLint(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "xmllint");
  return RunProgram(args, dir.path(), std::chrono::seconds(30));
}

std::string XPath(const TempDir& dir, const std::string& file, const std::string& expr) {
  auto r = XmlLint(dir, {"--xpath", expr, file});
  EXPECT_EQ(r.exit_code, 0) << expr << ": " << r.output;
  std::string out = r.output;
  if (!out.empty() && out.back() == '\n') out.pop_back();  // xmllint ends its answer with one
  return out;
}

TEST(JUnit, ValidatesAgainstTheSchemaAndCountsRight) {
  TempDir dir;
  ReportPaths paths;
  Status st = WriteReports({ZkLeaderStopJournal(), FailedFailoverJournal()},
                           ReportOptions{dir.path(), ""}, &paths);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(paths.junit, dir / "junit.xml");

  auto valid = XmlLint(dir, {"--noout", "--schema", Xsd(), paths.junit});
  ASSERT_EQ(valid.exit_code, 0) << valid.output << "\n" << ReadFile(paths.junit);

  // F1: two passing expectations + "faults reverted"; F3: a failure, an unknown, and a fault
  // left behind.
  EXPECT_EQ(XPath(dir, paths.junit, "string(/testsuites/@tests)"), "6");
  EXPECT_EQ(XPath(dir, paths.junit, "string(/testsuites/@failures)"), "2");
  EXPECT_EQ(XPath(dir, paths.junit, "string(/testsuites/@errors)"), "1");
  EXPECT_EQ(XPath(dir, paths.junit, "count(//testsuite)"), "2");
  EXPECT_EQ(XPath(dir, paths.junit, "string(//testsuite[@name='F1']/@timestamp)"),
            "2026-11-22T04:30:00.125Z");
  EXPECT_EQ(XPath(dir, paths.junit, "string(//testsuite[@name='F1']/@failures)"), "0");
  EXPECT_EQ(XPath(dir, paths.junit,
                  "string(//testcase[@classname='F3' and @name='failover']/failure/@message)"),
            "expected hdfs.active ≠ nn1 within 2s of kill-active; observed nn2 at +3.0s");
  EXPECT_EQ(XPath(dir, paths.junit,
                  "string(//testcase[@classname='F3' and @name='single-active']/error/@type)"),
            "unknown");
  EXPECT_EQ(XPath(dir, paths.junit,
                  "string(//testcase[@classname='F3' and @name='faults reverted']/failure/@message)"),
            "left behind on a host: nn1: namenode not started again (revert failed: ssh: "
            "connection timed out)");
  EXPECT_EQ(XPath(dir, paths.junit,
                  "count(//testcase[@classname='F1' and @name='faults reverted']/failure)"),
            "0");
  EXPECT_EQ(XPath(dir, paths.junit, "string(//testcase[@name='new-leader']/@time)"), "2.000");
  std::string out = XPath(dir, paths.junit, "string(//testsuite[@name='F3']/system-out)");
  EXPECT_NE(out.find("+8.0s  inject  nn1  kill-active  kill -9 namenode (pid 4242)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("FAILED: ssh: connection timed out"), std::string::npos) << out;
}

TEST(JUnit, SchemaRejectsWhatJenkinsWouldMisread) {
  // The schema has teeth: each of these is a mistake the writer could make.
  TempDir dir;
  const char* bad[] = {
      // a test case without a name
      R"(<testsuites><testsuite name="F1" tests="1"><testcase classname="F1"/></testsuite></testsuites>)",
      // a count that is not a number
      R"(<testsuites><testsuite name="F1" tests="one"/></testsuites>)",
      // a time with a unit
      R"(<testsuites><testsuite name="F1" tests="1"><testcase classname="F1" name="e" time="4.2s"/></testsuite></testsuites>)",
      // failure after system-out: Jenkins' order is error*, failure*, system-out*
      R"(<testsuites><testsuite name="F1" tests="1"><testcase classname="F1" name="e"><system-out/><failure/></testcase></testsuite></testsuites>)",
      // an attribute Jenkins does not know
      R"(<testsuites><testsuite name="F1" tests="1" flaky="yes"/></testsuites>)",
  };
  int i = 0;
  for (const char* xml : bad) {
    std::string file = dir / ("bad" + std::to_string(i++) + ".xml");
    WriteFile(file, xml);
    auto r = XmlLint(dir, {"--noout", "--schema", Xsd(), file});
    EXPECT_NE(r.exit_code, 0) << "accepted: " << xml;
  }
}

TEST(JUnit, HostileStringsStayWellFormedAndValid) {
  Journal j = FailedFailoverJournal();
  j.drill = "F3 <&> \"quoted\" 'single'";
  j.verdicts[0].message = "expected <x> & \"y\"; observed ]]> \x01\x1b[31m red \xff end";
  j.verdicts[0].id = "id with\nnewline";
  j.actions[0].detail = "echo '</system-out><script>alert(1)</script>'";
  j.notes = {"tab\there", std::string("nul \0 inside", 13)};
  j.started_at = "22/11/2026 04:31";  // not a date-time Jenkins reads: left out of the suite
  TempDir dir;
  std::string file = dir / "junit.xml";
  WriteFile(file, JUnitXml({j}));
  auto valid = XmlLint(dir, {"--noout", "--schema", Xsd(), file});
  ASSERT_EQ(valid.exit_code, 0) << valid.output << "\n" << ReadFile(file);
  EXPECT_EQ(XPath(dir, file, "string(//testsuite/@name)"), "F3 <&> \"quoted\" 'single'");
  EXPECT_EQ(XPath(dir, file, "count(//testsuite/@timestamp)"), "0");
  EXPECT_EQ(XPath(dir, file, "string(//property[@name='started_at']/@value)"), "22/11/2026 04:31");
  // Attribute newlines survive as character references instead of being folded to spaces.
  EXPECT_EQ(XPath(dir, file, "count(//testcase[@name='id with\nnewline'])"), "1");
  EXPECT_EQ(XPath(dir, file, "string(//testcase[failure/@type='expectation']/failure/@message)"),
            "expected <x> & \"y\"; observed ]]> \xEF\xBF\xBD\xEF\xBF\xBD[31m red \xEF\xBF\xBD end");
}

TEST(VerdictTable, ShowsEveryCheckAndWhatWasLeftBehind) {
  std::string t = VerdictTable({ZkLeaderStopJournal(), FailedFailoverJournal()});
  EXPECT_EQ(t.substr(0, t.find('\n')),
            "DRILL  EXPECTATION      VERDICT  RECOVERY  EXPECTED                                    "
            "OBSERVED");
  EXPECT_NE(t.find("\nF1     new-leader       PASS     2.0s      zk.leader ≠ zk1 within 10s of "
                   "stop-leader   zk2 at +7.0s\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nF3     faults reverted  FAIL     -         every fault reverted"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nF3: NOT REVERTED: kill-active (process.kill) on nn1\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("\nF3: LEFT BEHIND: nn1: namenode not started again"), std::string::npos) << t;
  EXPECT_NE(t.find("\nF3 failover: expected hdfs.active ≠ nn1 within 2s of kill-active; "
                   "observed nn2 at +3.0s\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nF1: note: netem missing on zk2: NFQUEUE delayer used\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("\n6 checks: 3 passed, 2 failed, 1 unknown\n"), std::string::npos) << t;
}

TEST(WriteReports, WritesEveryFileAndKeepsDuplicateDrillsApart) {
  TempDir dir;
  ReportPaths paths;
  Journal again = ZkLeaderStopJournal();
  again.run_id = "second";
  std::string sub = dir / "nested/reports";
  Status st = WriteReports({ZkLeaderStopJournal(), again}, ReportOptions{sub, dir / "x/j.xml"},
                           &paths);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(paths.journals, (std::vector<std::string>{sub + "/F1.json", sub + "/F1-2.json"}));
  EXPECT_EQ(paths.html, sub + "/report.html");
  EXPECT_EQ(paths.junit, dir / "x/j.xml");
  Journal second;
  ASSERT_TRUE(FromJson(nlohmann::json::parse(ReadFile(sub + "/F1-2.json")), &second).ok());
  EXPECT_EQ(second.run_id, "second");
  EXPECT_FALSE(std::filesystem::exists(sub + "/junit.xml"));
  // No temporary file is left beside the reports.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(sub)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 3);
}

TEST(WriteReports, NamesThePathItCannotWrite) {
  TempDir dir;
  WriteFile(dir / "occupied", "a file where a directory should go");
  Status st = WriteReports({ZkLeaderStopJournal()}, ReportOptions{dir / "occupied/sub", ""},
                           nullptr);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find(dir / "occupied"), std::string::npos) << st.message();
}

// ---- faultline diff ----

Journal WithRecovery(Journal j, double recovery_ms, JournalVerdict::Result result) {
  j.verdicts[0].recovery_ms = recovery_ms;
  j.verdicts[0].observed_ms = *j.verdicts[0].window_start_ms + recovery_ms;
  j.verdicts[0].result = result;
  return j;
}

std::string SaveJournal(const TempDir& dir, const std::string& name, const Journal& j) {
  std::string path = dir / name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  WriteFile(path, ToJson(j).dump(2));
  return path;
}

struct DiffRun {
  int exit_code;
  std::string out, err;
};

DiffRun RunDiff(const std::string& old_path, const std::string& new_path, double factor = 1.5) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = CmdDiff(DiffOptions{old_path, new_path, factor});
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return DiffRun{rc, out, err};
}

TEST(Diff, FlagsASlowerRecoveryAndExitsOne) {
  TempDir dir;
  Journal last_quarter = WithRecovery(ZkLeaderStopJournal(), 2000, JournalVerdict::Result::kPass);
  Journal this_quarter = WithRecovery(ZkLeaderStopJournal(), 6500, JournalVerdict::Result::kPass);
  auto r = RunDiff(SaveJournal(dir, "old.json", last_quarter),
                   SaveJournal(dir, "new.json", this_quarter));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out,
            "DRILL  EXPECTATION      OLD   NEW   CHANGE         VERDICT  FLAG\n"
            "F1     new-leader       2.0s  6.5s  +4.5s (×3.25)  pass     REGRESSION: slower\n"
            "F1     quorum-always    -     -     -              pass\n"
            "F1     faults reverted  -     -     -              pass\n"
            "1 regression (slower than old × 1.50 and by more than 1s, or pass → fail)\n");
}

TEST(Diff, SmallOrProportionateChangesAreNotRegressions) {
  TempDir dir;
  // ×3 but only 0.6 s slower: under the one-second floor.
  auto a = RunDiff(SaveJournal(dir, "a_old.json", WithRecovery(ZkLeaderStopJournal(), 300, JournalVerdict::Result::kPass)),
                   SaveJournal(dir, "a_new.json", WithRecovery(ZkLeaderStopJournal(), 900, JournalVerdict::Result::kPass)));
  EXPECT_EQ(a.exit_code, 0) << a.out;
  // 5 s slower but only ×1.25: under the factor.
  auto b = RunDiff(SaveJournal(dir, "b_old.json", WithRecovery(ZkLeaderStopJournal(), 20000, JournalVerdict::Result::kPass)),
                   SaveJournal(dir, "b_new.json", WithRecovery(ZkLeaderStopJournal(), 25000, JournalVerdict::Result::kPass)));
  EXPECT_EQ(b.exit_code, 0) << b.out;
  // The same pair with a stricter factor is a regression.
  auto c = RunDiff(dir / "b_old.json", dir / "b_new.json", 1.2);
  EXPECT_EQ(c.exit_code, 1) << c.out;
  // Faster is shown as such.
  auto d = RunDiff(dir / "b_new.json", dir / "a_old.json");
  EXPECT_EQ(d.exit_code, 0);
  EXPECT_NE(d.out.find("-24.7s (×0.01)  pass     faster"), std::string::npos) << d.out;
}

TEST(Diff, PassToFailIsARegressionEvenWithoutTimes) {
  TempDir dir;
  Journal old_j = FailedFailoverJournal();
  old_j.verdicts[0].result = JournalVerdict::Result::kPass;
  old_j.verdicts[0].recovery_ms.reset();
  old_j.faults[0].reverted = true;
  old_j.faults[0].revert_ms = 18000;
  old_j.leftovers.clear();
  Journal new_j = FailedFailoverJournal();
  new_j.verdicts[0].recovery_ms.reset();
  auto r = RunDiff(SaveJournal(dir, "old.json", old_j), SaveJournal(dir, "new.json", new_j));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("F3     failover         -    -    -       pass → fail  REGRESSION: now failing"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("F3     faults reverted  -    -    -       pass → fail  REGRESSION: now failing"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2 regressions"), std::string::npos) << r.out;
}

TEST(Diff, ComparesDirectoriesOfJournalsByDrillAndId) {
  TempDir dir;
  SaveJournal(dir, "q3/F1/F1.json", WithRecovery(ZkLeaderStopJournal(), 2000, JournalVerdict::Result::kPass));
  SaveJournal(dir, "q3/F3/F3.json", FailedFailoverJournal());
  Journal f1 = WithRecovery(ZkLeaderStopJournal(), 2100, JournalVerdict::Result::kPass);
  f1.verdicts[1].id = "quorum-held";  // renamed: shows as new, and the old id as only in old
  SaveJournal(dir, "q4/F1.json", f1);
  WriteFile(dir / "q4/junit.xml", "<testsuites/>");  // other report files are not journals
  auto r = RunDiff(dir / "q3", dir / "q4");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("F1     new-leader       2.0s  2.1s  +100ms (×1.05)  pass"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("F1     quorum-held      -     -     -               pass     new"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("F1     quorum-always    -     -     -               pass     only in old"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("F3     failover         3.0s  -     -               fail     only in old"),
            std::string::npos)
      << r.out;
}

TEST(Diff, BadInputExitsTwoNamingTheFile) {
  TempDir dir;
  std::string good = SaveJournal(dir, "good.json", ZkLeaderStopJournal());
  WriteFile(dir / "broken.json", "{\n  \"schema\": 1,\n  \"drill\": oops\n}\n");
  Journal j = ZkLeaderStopJournal();
  nlohmann::json wrong = ToJson(j);
  wrong["verdicts"][0]["recovery_ms"] = "2s";
  WriteFile(dir / "wrong.json", wrong.dump());

  auto missing = RunDiff(dir / "nope.json", good);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "faultline diff: " + dir / "nope.json" + ": no such file or directory\n");

  auto broken = RunDiff(good, dir / "broken.json");
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_EQ(broken.err.rfind("faultline diff: " + dir / "broken.json" + ":3:12: not a valid JSON journal: ", 0), 0u)
      << broken.err;

  auto typed = RunDiff(dir / "wrong.json", good);
  EXPECT_EQ(typed.exit_code, 2);
  EXPECT_EQ(typed.err, "faultline diff: " + dir / "wrong.json" +
                           ": verdicts[0].recovery_ms: expected a number or null, got string \"2s\"\n");

  std::filesystem::create_directories(dir / "twice");
  SaveJournal(dir, "twice/a.json", j);
  SaveJournal(dir, "twice/b.json", j);
  auto twice = RunDiff(dir / "twice", good);
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("drill F1 is also in"), std::string::npos) << twice.err;

  std::filesystem::create_directories(dir / "empty");
  auto empty = RunDiff(dir / "empty", good);
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("no journals (*.json)"), std::string::npos) << empty.err;

  auto factor = RunDiff(good, good, 0.5);
  EXPECT_EQ(factor.exit_code, 2);
}

}  // namespace
}  // namespace faultline

// The JSON journal: every field survives ToJson -> text -> FromJson, docs/journal.md names
// every key ToJson writes, and bad journals are refused with the path of the bad field.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "orchestrator/journal.h"
#include "orchestrator/report/report.h"
#include "orchestrator/report/report_testing.h"

namespace faultline {
namespace {

using testing::FailedFailoverJournal;
using testing::ZkLeaderStopJournal;

// Field by field, so that a field ToJson forgets shows up as a difference here (comparing
// ToJson(a) with ToJson(b) would be blind to it).
void ExpectSameJournal(const Journal& a, const Journal& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.drill, b.drill);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.drill_file, b.drill_file);
  EXPECT_EQ(a.inventory, b.inventory);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.duration_ms, b.duration_ms);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.hosts, b.hosts);
  ASSERT_EQ(a.phases.size(), b.phases.size());
  for (size_t i = 0; i < a.phases.size(); ++i) {
    EXPECT_EQ(a.phases[i].name, b.phases[i].name);
    EXPECT_EQ(a.phases[i].start_ms, b.phases[i].start_ms);
    EXPECT_EQ(a.phases[i].end_ms, b.phases[i].end_ms);
  }
  ASSERT_EQ(a.faults.size(), b.faults.size());
  for (size_t i = 0; i < a.faults.size(); ++i) {
    EXPECT_EQ(a.faults[i].fault, b.faults[i].fault);
    EXPECT_EQ(a.faults[i].action, b.faults[i].action);
    EXPECT_EQ(a.faults[i].hosts, b.faults[i].hosts);
    EXPECT_EQ(a.faults[i].inject_ms, b.faults[i].inject_ms);
    EXPECT_EQ(a.faults[i].revert_ms, b.faults[i].revert_ms);
    EXPECT_EQ(a.faults[i].reverted, b.faults[i].reverted);
  }
  ASSERT_EQ(a.actions.size(), b.actions.size());
  for (size_t i = 0; i < a.actions.size(); ++i) {
    EXPECT_EQ(a.actions[i].t_ms, b.actions[i].t_ms);
    EXPECT_EQ(a.actions[i].took_ms, b.actions[i].took_ms);
    EXPECT_EQ(a.actions[i].host, b.actions[i].host);
    EXPECT_EQ(a.actions[i].fault, b.actions[i].fault);
    EXPECT_EQ(a.actions[i].kind, b.actions[i].kind);
    EXPECT_EQ(a.actions[i].detail, b.actions[i].detail);
    EXPECT_EQ(a.actions[i].ok, b.actions[i].ok);
    EXPECT_EQ(a.actions[i].error, b.actions[i].error);
  }
  ASSERT_EQ(a.samples.size(), b.samples.size());
  for (size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_EQ(a.samples[i].probe, b.samples[i].probe);
    EXPECT_EQ(a.samples[i].t_ms, b.samples[i].t_ms);
    EXPECT_EQ(a.samples[i].value, b.samples[i].value);
    EXPECT_EQ(a.samples[i].unreachable, b.samples[i].unreachable);
    EXPECT_EQ(a.samples[i].error, b.samples[i].error);
  }
  ASSERT_EQ(a.roles.size(), b.roles.size());
  for (size_t i = 0; i < a.roles.size(); ++i) {
    EXPECT_EQ(a.roles[i].host, b.roles[i].host);
    EXPECT_EQ(a.roles[i].t_ms, b.roles[i].t_ms);
    EXPECT_EQ(a.roles[i].role, b.roles[i].role);
  }
  ASSERT_EQ(a.verdicts.size(), b.verdicts.size());
  for (size_t i = 0; i < a.verdicts.size(); ++i) {
    const auto &x = a.verdicts[i], &y = b.verdicts[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.expected, y.expected);
    EXPECT_EQ(x.observed, y.observed);
    EXPECT_EQ(x.result, y.result);
    EXPECT_EQ(x.observed_ms, y.observed_ms);
    EXPECT_EQ(x.window_start_ms, y.window_start_ms);
    EXPECT_EQ(x.deadline_ms, y.deadline_ms);
    EXPECT_EQ(x.recovery_ms, y.recovery_ms);
    EXPECT_EQ(x.message, y.message);
    EXPECT_EQ(x.mark.file, y.mark.file);
    EXPECT_EQ(x.mark.line, y.mark.line);
    EXPECT_EQ(x.mark.column, y.mark.column);
  }
  EXPECT_EQ(a.leftovers, b.leftovers);
  EXPECT_EQ(a.notes, b.notes);
  EXPECT_EQ(a.attachments, b.attachments);
}

Journal RoundTrip(const Journal& in) {
  std::string text = ToJson(in).dump(2);
  Journal out;
  Status st = FromJson(nlohmann::json::parse(text), &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(JournalJson, EveryFieldSurvivesTheRoundTrip) {
  for (const Journal& j : {ZkLeaderStopJournal(), FailedFailoverJournal()}) {
    SCOPED_TRACE(j.drill);
    ExpectSameJournal(j, RoundTrip(j));
  }
}

TEST(JournalJson, NonDefaultValuesOfEveryKindRoundTrip) {
  // The builders leave some fields at their defaults; here every one is set to something a
  // default could not be mistaken for.
  Journal j = FailedFailoverJournal();
  j.exit_code = 3;
  j.duration_ms = 123456.789;
  j.phases = {{"preflight", 0.5, 1999.25}};
  j.faults[0].revert_ms = 19999.5;
  j.faults[0].reverted = false;  // a revert was attempted (and timed) but did not take
  j.actions[0].ok = false;
  j.actions[0].error = "exit status 1: iptables: No chain/target/match by that name.";
  j.samples = {{"command{cmd=echo ok}", 250.125, nlohmann::json::array({1, "two", nullptr}), true,
                "timed out after 2s"}};
  j.verdicts[1].observed_ms = 0;  // zero is a time, not "unset"
  j.verdicts[1].recovery_ms = 0;
  j.notes = {"one", "two"};
  j.attachments = {{"pcap", "zk1.pcap"}, {"journal", "logs/j.txt"}};
  ExpectSameJournal(j, RoundTrip(j));
}

TEST(JournalJson, UnsetTimesAreWrittenAsNull) {
  nlohmann::json j = ToJson(FailedFailoverJournal());
  EXPECT_EQ(j["schema"], kJournalSchema);
  EXPECT_TRUE(j["faults"][0]["revert_ms"].is_null());
  EXPECT_TRUE(j["verdicts"][1]["observed_ms"].is_null());
  EXPECT_TRUE(j["verdicts"][1]["deadline_ms"].is_null());
  EXPECT_EQ(j["verdicts"][0]["result"], "fail");
  EXPECT_EQ(j["verdicts"][1]["result"], "unknown");
  EXPECT_EQ(j["verdicts"][0]["mark"], (nlohmann::json{{"file", "drills/F3.yaml"}, {"line", 21},
                                                      {"column", 5}}));
}

// Collects every object key ToJson writes, e.g. "verdicts[].mark.line" -> "line".
void CollectKeys(const nlohmann::json& j, std::set<std::string>* keys) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      keys->insert(k);
      CollectKeys(v, keys);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectKeys(v, keys);
  }
}

TEST(JournalJson, DocsNameEveryKey) {
  std::string doc = testing::ReadFile(testing::SourceRoot() + "/docs/journal.md");
  ASSERT_FALSE(doc.empty()) << "docs/journal.md is missing";
  std::set<std::string> keys;
  Journal j = ZkLeaderStopJournal();
  CollectKeys(ToJson(j), &keys);
  keys.erase("zk_server_state");  // a sample's value, not a journal key
  keys.erase("zk_znode_count");
  keys.erase("zk1 log");          // an attachment's name
  for (const auto& k : keys) {
    EXPECT_NE(doc.find("`" + k + "`"), std::string::npos)
        << "docs/journal.md does not document the key `" << k << "`";
  }
}

Status Read(const std::string& text) {
  Journal j;
  return FromJson(nlohmann::json::parse(text), &j);
}

TEST(JournalJson, RefusesBadJournalsNamingTheField) {
  nlohmann::json good = ToJson(FailedFailoverJournal());
  ASSERT_TRUE(Read(good.dump()).ok());

  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](auto& j) { j = nlohmann::json::array(); }, "expected a journal object, got array"},
      {[](auto& j) { j.erase("schema"); },
       "schema: missing; not a faultline journal (docs/journal.md)"},
      {[](auto& j) { j["schema"] = 2; },
       "schema: version 2 is newer than this faultline reads (1); upgrade faultline"},
      {[](auto& j) { j["schema"] = "1"; }, "schema: expected a positive integer, got \"1\""},
      {[](auto& j) { j.erase("drill"); }, "drill: missing (required)"},
      {[](auto& j) { j["duration_ms"] = "20s"; },
       "duration_ms: expected a number, got string \"20s\""},
      {[](auto& j) { j["exit_code"] = 1.5; }, "exit_code: expected an integer, got number 1.5"},
      {[](auto& j) { j["hosts"][1] = 7; }, "hosts[1]: expected a string, got number 7"},
      {[](auto& j) { j["verdicts"][1]["result"] = "passed"; },
       "verdicts[1].result: expected \"pass\", \"fail\" or \"unknown\", got \"passed\""},
      {[](auto& j) { j["verdicts"][0]["deadline_ms"] = true; },
       "verdicts[0].deadline_ms: expected a number or null, got boolean true"},
      {[](auto& j) { j["verdicts"][0]["mark"]["line"] = "21"; },
       "verdicts[0].mark.line: expected an integer, got string \"21\""},
      {[](auto& j) { j["faults"][0].erase("reverted"); }, "faults[0].reverted: missing (required)"},
      {[](auto& j) { j["actions"][1] = "revert"; },
       "actions[1]: expected an object, got string \"revert\""},
      {[](auto& j) { j["roles"][2].erase("role"); }, "roles[2].role: missing (required)"},
      {[](auto& j) { j["attachments"] = nlohmann::json{{"pcap", 3}}; },
       "attachments.pcap: expected a string (a relative path), got number 3"},
      {[](auto& j) { j["leftovers"] = "nn1"; },
       "leftovers: expected an array of strings, got string \"nn1\""},
  };
  for (const auto& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    Status st = Read(j.dump());
    EXPECT_EQ(st.code(), Status::Code::kInvalid) << c.message;
    EXPECT_EQ(st.message(), c.message);
  }
}

TEST(JournalJson, OptionalFieldsMayBeLeftOut) {
  // The smallest journal a hand or another tool can write.
  Journal j;
  Status st = FromJson(nlohmann::json::parse(
                           R"({"schema":1,"run_id":"r","drill":"F9","verdicts":[{"id":"e","result":"pass"}]})"),
                       &j);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(j.drill, "F9");
  ASSERT_EQ(j.verdicts.size(), 1u);
  EXPECT_FALSE(j.verdicts[0].recovery_ms.has_value());
  EXPECT_TRUE(j.attachments.is_object());
}

TEST(JournalJson, InvalidUtf8IsReplacedNotFatal) {
  // Probe output is arbitrary bytes; the journal must still be written and read back.
  Journal j = ZkLeaderStopJournal();
  j.samples[3].error = std::string("read: \xff\xfe garbage \xc3");
  j.notes.push_back("bad byte \x80 here");
  testing::TempDir dir;
  ReportPaths paths;
  Status st = WriteReports({j}, ReportOptions{dir.path(), ""}, &paths);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(paths.journals.size(), 1u);
  Journal back;
  ASSERT_TRUE(FromJson(nlohmann::json::parse(testing::ReadFile(paths.journals[0])), &back).ok());
  EXPECT_EQ(back.samples[3].error, "read: \xEF\xBF\xBD\xEF\xBF\xBD garbage \xEF\xBF\xBD");
  EXPECT_EQ(back.notes.back(), "bad byte \xEF\xBF\xBD here");
}

}  // namespace
}  // namespace faultline

#include "orchestrator/drill_parser.h"

#include <gtest/gtest.h>

#include "checks/probe.h"
#include "faults/fault.h"

namespace faultline {
namespace {

// The parser reads the global registries; these tests fill them with entries shaped like
// the real ones so that the tests do not depend on other parts' registrations.
void RegisterTestEntries() {
  using K = FaultParam::Kind;
  auto& cat = FaultCatalogue::Global();
  cat.Register({"process.kill",
                "kill a process",
                {{"process", K::kString, true, "a process named in the inventory", "process"},
                 {"signal", K::kString, false, "", ""}},
                true},
               nullptr);
  cat.Register(
      {"process.pause", "SIGSTOP a process", {{"process", K::kString, true, "", "process"}}, true},
      nullptr);
  cat.Register(
      {"service.stop", "stop a service", {{"service", K::kString, true, "", "service"}}, true},
      nullptr);
  cat.Register({"network.delay",
                "delay packets",
                {{"latency", K::kDuration, true, "", ""},
                 {"jitter", K::kDuration, false, "", ""},
                 {"correlation", K::kPercent, false, "", ""},
                 {"direction", K::kString, false, "", ""},
                 {"peers", K::kStringList, false, "", "host"}},
                false},
               nullptr);
  cat.Register(
      {"network.partition", "drop packets", {{"peers", K::kStringList, false, "", "host"}}, true},
      nullptr);
  cat.Register({"disk.fill",
                "fill a disk",
                {{"size", K::kBytes, true, "", ""}, {"path", K::kString, false, "", ""}},
                true},
               nullptr);
  cat.Register({"command",
                "run commands",
                {{"inject", K::kCommand, true, "", ""},
                 {"revert", K::kCommand, false, "", ""},
                 {"count", K::kInt, false, "", ""},
                 {"sudo", K::kBool, false, "", ""},
                 {"extra", K::kAny, false, "", ""}},
                false},
               nullptr);
  auto& probes = ProbeRegistry::Global();
  probes.Register({"zk.leader", "the leader", {}, true}, nullptr);
  probes.Register({"zk.quorum", "quorum up", {}, false}, nullptr);
  probes.Register({"hdfs.active", "active NameNode", {}, true}, nullptr);
  probes.Register({"hdfs.active_count", "actives", {}, false}, nullptr);
  probes.Register({"tcp", "connect", {{"host", true, "", "host"}, {"port", true, "", ""}}, false},
                  nullptr);
  probes.Register({"process.running",
                   "pid alive",
                   {{"process", true, "", "process"}, {"host", false, "", "host"}},
                   false},
                  nullptr);
}

class DrillParserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterTestEntries(); }

  // The error text for a drill that must not parse.
  static std::string Error(const std::string& yaml) {
    Drill d;
    Status st = ParseDrillText(yaml, "t.yaml", &d);
    EXPECT_FALSE(st.ok()) << "parsed but should not:\n" << yaml;
    EXPECT_EQ(st.code(), Status::Code::kInvalid);
    return st.message();
  }
};

// A valid fault list to put under broken expectations.
const char* kFault =
    "name: F\n"
    "faults:\n"
    "  - name: kill\n"
    "    action: process.kill\n"
    "    target: {host: nn1}\n"
    "    process: namenode\n";

const char* kF3 = R"(name: F3
title: Active NameNode crash
description: |
  The active NameNode dies; the standby takes over.
sample_every: 50ms
preflight_within: 45s
steady_state:
  - probe: hdfs.active
    present: true
  - probe: zk.quorum
    equals: true
faults:
  - name: kill-active
    action: process.kill
    target: {role: hdfs.active}
    process: namenode
    signal: KILL
    duration: 60s
  - name: slow-zk
    action: network.delay
    target: {group: zookeeper, pick: majority}
    offset: 10s
    duration: 1m30s
    latency: 200ms
    jitter: 50ms
    correlation: 25%
    direction: both
expect:
  - name: failover
    probe: hdfs.active
    equals: {not: "${target}"}
    within: 30s
    during: kill-active
  - probe: hdfs.active_count
    at_most: 1
    always: true
  - probe: tcp
    host: nn1
    port: 8020
    present: false
    for: 5s
    after: kill-active
  - probe: zk.leader
    changed: true
    never: true
    during: slow-zk
  - probe: zk.leader
    at_least: 0.5
    within: 2m
recover:
  within: 3m
)";

TEST_F(DrillParserTest, GoodDrillFieldByField) {
  Drill d;
  Status st = ParseDrillText(kF3, "drills/f3.yaml", &d);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(d.file, "drills/f3.yaml");
  EXPECT_EQ(d.name, "F3");
  EXPECT_EQ(d.title, "Active NameNode crash");
  EXPECT_EQ(d.description, "The active NameNode dies; the standby takes over.\n");
  EXPECT_EQ(d.sample_every, Millis(50));
  EXPECT_EQ(d.preflight_within, Millis(45000));
  EXPECT_EQ(d.recover_within, Millis(180000));
  EXPECT_FALSE(d.expects_quorum_loss);

  ASSERT_EQ(d.steady_state.size(), 2u);
  EXPECT_EQ(d.steady_state[0].probe.name, "hdfs.active");
  EXPECT_EQ(d.steady_state[0].predicate.op, Predicate::Op::kPresent);
  EXPECT_EQ(d.steady_state[0].probe.mark.ToString(), "drills/f3.yaml:8:5");
  EXPECT_EQ(d.steady_state[1].predicate.op, Predicate::Op::kEquals);
  EXPECT_EQ(d.steady_state[1].predicate.operand, nlohmann::json(true));
  EXPECT_EQ(d.steady_state[1].predicate.mark.ToString(), "drills/f3.yaml:11:13");

  ASSERT_EQ(d.faults.size(), 2u);
  const FaultStep& k = d.faults[0];
  EXPECT_EQ(k.name, "kill-active");
  EXPECT_EQ(k.action, "process.kill");
  EXPECT_EQ(k.mark.ToString(), "drills/f3.yaml:13:5");
  EXPECT_EQ(k.target.kind, TargetSpec::Kind::kRole);
  EXPECT_EQ(k.target.names, std::vector<std::string>{"hdfs.active"});
  EXPECT_EQ(k.target.pick, TargetSpec::Pick::kAll);
  EXPECT_EQ(k.target.mark.ToString(), "drills/f3.yaml:15:13");
  EXPECT_EQ(k.offset, Millis(0));
  ASSERT_TRUE(k.duration.has_value());
  EXPECT_EQ(*k.duration, Millis(60000));
  EXPECT_EQ(k.params, (nlohmann::json{{"process", "namenode"}, {"signal", "KILL"}}));
  const FaultStep& s = d.faults[1];
  EXPECT_EQ(s.target.kind, TargetSpec::Kind::kGroup);
  EXPECT_EQ(s.target.pick, TargetSpec::Pick::kMajority);
  EXPECT_EQ(s.offset, Millis(10000));
  EXPECT_EQ(*s.duration, Millis(90000));
  EXPECT_EQ(s.params, (nlohmann::json{{"latency", "200ms"},
                                      {"jitter", "50ms"},
                                      {"correlation", "25%"},
                                      {"direction", "both"}}));

  ASSERT_EQ(d.expect.size(), 5u);
  const Expectation& e0 = d.expect[0];
  EXPECT_EQ(e0.id, "failover");
  EXPECT_EQ(e0.probe.name, "hdfs.active");
  EXPECT_EQ(e0.predicate.op, Predicate::Op::kNotEquals);
  EXPECT_EQ(e0.predicate.operand, nlohmann::json("${target}"));
  EXPECT_EQ(e0.mode, Expectation::Mode::kWithin);
  EXPECT_EQ(e0.span, Millis(30000));
  EXPECT_EQ(e0.window, Expectation::Window::kDuringFault);
  EXPECT_EQ(e0.anchor, "kill-active");
  EXPECT_EQ(e0.mark.ToString(), "drills/f3.yaml:29:5");
  const Expectation& e1 = d.expect[1];
  EXPECT_EQ(e1.id, "expect[1]");
  EXPECT_EQ(e1.predicate.op, Predicate::Op::kAtMost);
  EXPECT_EQ(e1.predicate.operand, nlohmann::json(1));
  EXPECT_EQ(e1.mode, Expectation::Mode::kAlways);
  EXPECT_EQ(e1.window, Expectation::Window::kDrill);
  EXPECT_EQ(e1.anchor, "");
  const Expectation& e2 = d.expect[2];
  EXPECT_EQ(e2.probe.params, (nlohmann::json{{"host", "nn1"}, {"port", 8020}}));
  EXPECT_EQ(e2.probe.Key(), "tcp{host=nn1,port=8020}");
  EXPECT_EQ(e2.predicate.op, Predicate::Op::kAbsent);
  EXPECT_EQ(e2.mode, Expectation::Mode::kFor);
  EXPECT_EQ(e2.span, Millis(5000));
  EXPECT_EQ(e2.window, Expectation::Window::kAfterRevert);
  const Expectation& e3 = d.expect[3];
  EXPECT_EQ(e3.predicate.op, Predicate::Op::kChanged);
  EXPECT_EQ(e3.mode, Expectation::Mode::kNever);
  EXPECT_EQ(e3.anchor, "slow-zk");
  EXPECT_EQ(d.expect[4].predicate.op, Predicate::Op::kAtLeast);
  EXPECT_EQ(d.expect[4].predicate.operand, nlohmann::json(0.5));
  EXPECT_EQ(d.expect[4].span, Millis(120000));
}

TEST_F(DrillParserTest, DefaultsAndParameterKinds) {
  Drill d;
  Status st = ParseDrillText(R"(name: cmd
faults:
  - name: stop-it
    action: command
    target: {hosts: [a, b]}
    inject: [systemctl, stop, x]
    revert: systemctl start x
    count: 3
    sudo: true
    extra: {k: [1, "2"]}
  - name: part
    action: network.partition
    target: {group: zk, pick: minority}
    peers: zk1
expect:
  - probe: zk.leader
    changed: false
    within: 1s
)",
                             "c.yaml", &d);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(d.sample_every, Millis(100));
  EXPECT_EQ(d.preflight_within, Millis(30000));
  EXPECT_EQ(d.recover_within, Millis(120000));
  EXPECT_FALSE(d.faults[0].duration.has_value());
  EXPECT_EQ(d.faults[0].target.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.faults[0].params["inject"], (nlohmann::json{"systemctl", "stop", "x"}));
  EXPECT_EQ(d.faults[0].params["revert"], nlohmann::json("systemctl start x"));
  EXPECT_EQ(d.faults[0].params["count"], nlohmann::json(3));
  EXPECT_EQ(d.faults[0].params["sudo"], nlohmann::json(true));
  EXPECT_EQ(d.faults[0].params["extra"], (nlohmann::json{{"k", {1, "2"}}}));
  EXPECT_EQ(d.faults[1].target.pick, TargetSpec::Pick::kMinority);
  EXPECT_EQ(d.faults[1].params["peers"], (nlohmann::json{"zk1"}));
  EXPECT_EQ(d.expect[0].predicate.op, Predicate::Op::kEquals);
  EXPECT_EQ(d.expect[0].predicate.operand, nlohmann::json("${before}"));
}

TEST_F(DrillParserTest, ExceptAndCommandSequences) {
  Drill d;
  Status st = ParseDrillText(R"(name: rolling
faults:
  - name: first
    action: service.stop
    target: {role: zk.leader, pick: one}
    service: zookeeper
    duration: 3s
  - name: second
    action: service.stop
    target: {role: zk.leader, pick: one, except: "${faults.first.target}"}
    service: zookeeper
    offset: 30s
  - name: rest
    action: command
    target: {group: zk, pick: all, except: [zk4, "${faults.second.target}"]}
    offset: 40s
    inject: [[cp, a, b], [sed, -i, x, a]]
    revert: [["${host.faultline_services.zookeeper.start}"]]
expect:
  - {probe: zk.quorum, equals: true, within: 5s}
)",
                             "r.yaml", &d);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(d.faults[0].target.except.empty());
  EXPECT_EQ(d.faults[1].target.except, (std::vector<std::string>{"${faults.first.target}"}));
  EXPECT_EQ(d.faults[2].target.except, (std::vector<std::string>{"zk4", "${faults.second.target}"}));
  EXPECT_EQ(d.faults[2].params["inject"], (nlohmann::json{{"cp", "a", "b"}, {"sed", "-i", "x", "a"}}));
  EXPECT_EQ(d.faults[2].params["revert"], (nlohmann::json{{"${host.faultline_services.zookeeper.start}"}}));
  EXPECT_EQ(FaultTargetRef("${faults.first.target}"), "first");
  EXPECT_EQ(FaultTargetRef("${faults.first.targets}"), "");
  EXPECT_EQ(FaultTargetRef("zk4"), "");

  auto error = [](const std::string& yaml) {
    Drill bad;
    return ParseDrillText(yaml, "t.yaml", &bad).message();
  };
  const std::string head = "name: x\nfaults:\n  - {name: a, action: service.stop, service: s, target: {role: zk.leader}}\n";
  EXPECT_EQ(error(head + "  - {name: b, action: service.stop, service: s, target: {host: h, except: h}}\n"),
            "t.yaml:4:75: 'except' applies to group and role targets only");
  EXPECT_EQ(error(head + "  - {name: b, action: service.stop, service: s, target: {group: g, except: '${faults.c.target}'}}\n"),
            "t.yaml:4:76: unknown fault 'c' in 'except' of fault b; did you mean 'a'?");
  EXPECT_EQ(error(head + "  - {name: b, action: service.stop, service: s, target: {group: g, except: '${faults.b.target}'}}\n"),
            "t.yaml:4:76: 'except' of fault b refers to fault b, which starts at 0s, not before this one (0s); "
            "its hosts are not known yet");
  EXPECT_EQ(error(head + "  - {name: b, action: service.stop, service: s, target: {group: g, except: '${target}'}}\n"),
            "t.yaml:4:76: unknown reference '${target}' in 'except' of fault b; expected a host name or "
            "${faults.<name>.target}");
  EXPECT_EQ(error("name: x\nfaults:\n  - {name: a, action: command, target: {host: h}, inject: [[a], b], revert: c}\n"),
            "t.yaml:3:65: expected a list of words here: 'inject' is a list of commands, each a list");
}

struct BadDrill {
  const char* what;
  std::string yaml;
  std::string message;
};

std::string WithExpect(const std::string& expect) {
  return std::string(kFault) + "expect:\n" + expect;
}

TEST_F(DrillParserTest, MalformedDrillsSayWhereAndWhat) {
  const std::vector<BadDrill> cases = {
      {"yaml syntax", "name: [x\n",
       "t.yaml:2:1: YAML syntax error: end of sequence flow not found"},
      {"empty", "",
       "t.yaml:1:1: expected a drill (a mapping with name, faults and expect), got an empty file"},
      {"not a map", "- a\n- b\n",
       "t.yaml:1:1: expected the drill to be a mapping with name, faults and expect"},
      {"unknown top key", std::string(kFault) + "recovr: {within: 1s}\n",
       "t.yaml:7:1: unknown key 'recovr' in drill; did you mean 'recover'?"},
      {"missing name",
       "faults:\n  - {name: a, action: process.kill, target: {host: x}, process: p}\n",
       "t.yaml:1:1: missing 'name' in drill; expected a short identifier such as F3"},
      {"missing faults", "name: x\n",
       "t.yaml:1:1: missing 'faults' in drill; expected a list of faults, each with name, action "
       "and target"},
      {"faults not a list", "name: x\nfaults: {a: 1}\n",
       "t.yaml:2:9: expected 'faults' to be a non-empty list of faults, each with name, action and "
       "target"},
      {"duplicate key", "name: x\nname: y\nfaults: []\n",
       "t.yaml:2:1: duplicate key 'name' in the drill"},
      {"unknown action",
       "name: x\nfaults:\n  - name: a\n    action: proces.kill\n    target: {host: h}\n",
       "t.yaml:4:13: unknown action 'proces.kill' in fault 'a'; did you mean 'process.kill'?"},
      {"missing target",
       "name: x\nfaults:\n  - name: a\n    action: process.kill\n    process: p\n",
       "t.yaml:3:5: missing 'target' in fault 'a'; expected {host: ...}, {group: ..., pick: ...} "
       "or {role: ...}"},
      {"missing required param",
       "name: x\nfaults:\n  - name: a\n    action: network.delay\n    target: {host: h}\n",
       "t.yaml:3:5: missing parameter 'latency' for action network.delay in fault 'a'"},
      {"unknown param",
       "name: x\nfaults:\n  - name: a\n    action: network.delay\n    target: {host: h}\n    "
       "latency: 1s\n    jiter: 5ms\n",
       "t.yaml:7:5: unknown key 'jiter' in fault 'a' (action network.delay); did you mean "
       "'jitter'?"},
      {"misspelt required param",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h}, proces: p}\n",
       "t.yaml:3:56: unknown key 'proces' in fault 'a' (action process.kill); did you mean "
       "'process'?"},
      {"bad duration param",
       "name: x\nfaults:\n  - name: a\n    action: network.delay\n    target: {host: h}\n    "
       "latency: 200\n",
       "t.yaml:6:14: latency: expected a duration such as 250ms, 30s, 1m30s or 2h, got '200' (the "
       "unit is required)"},
      {"bad percent",
       "name: x\nfaults:\n  - name: a\n    action: network.delay\n    target: {host: h}\n    "
       "latency: 1s\n    correlation: 25\n",
       "t.yaml:7:18: correlation: expected a percentage between 0% and 100% such as 20% or 0.5%, "
       "got '25'"},
      {"wrong kind int",
       "name: x\nfaults:\n  - name: a\n    action: command\n    target: {host: h}\n    inject: x\n "
       "   count: many\n",
       "t.yaml:7:12: expected a whole number after 'count', got 'many'"},
      {"wrong kind bool",
       "name: x\nfaults:\n  - name: a\n    action: command\n    target: {host: h}\n    inject: x\n "
       "   sudo: yes\n",
       "t.yaml:7:11: expected true or false after 'sudo', got 'yes'"},
      {"string param given a map",
       "name: x\nfaults:\n  - name: a\n    action: process.kill\n    target: {host: h}\n    "
       "process: {a: b}\n",
       "t.yaml:6:14: expected a string after 'process'"},
      {"bad size",
       "name: x\nfaults:\n  - name: a\n    action: disk.fill\n    target: {host: h}\n    size: "
       "lots\n",
       "t.yaml:6:11: size: expected a size such as 4096, 512KiB, 64MiB or 1G, got 'lots'"},
      {"duplicate fault name",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h}, process: p}\n  - "
       "{name: a, action: process.kill, target: {host: h}, process: p}\n",
       "t.yaml:4:12: duplicate fault name 'a'; each fault needs its own name"},
      {"bad fault name",
       "name: x\nfaults:\n  - {name: 'a b', action: process.kill, target: {host: h}, process: p}\n",
       "t.yaml:3:12: expected a fault name made of letters, digits, '.', '_' and '-', got 'a b'"},
      {"target two kinds",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h, group: g}, "
       "process: p}\n",
       "t.yaml:3:45: conflicting 'host', 'group' in the target of fault 'a'; expected exactly one "
       "of host, hosts, group or role"},
      {"target unknown key",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {gruop: g}, process: p}\n",
       "t.yaml:3:46: unknown key 'gruop' in target; did you mean 'group'?"},
      {"target scalar",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: nn1, process: p}\n",
       "t.yaml:3:45: expected the target of fault 'a' to be a mapping such as {host: nn1}, {group: "
       "zookeeper, pick: one} or {role: zk.leader}"},
      {"bad pick",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: g, pick: most}, "
       "process: p}\n",
       "t.yaml:3:62: unknown pick 'most' in target; expected one of: one, majority, minority, all"},
      {"pick on host",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h, pick: one}, "
       "process: p}\n",
       "t.yaml:3:61: 'pick' applies to group and role targets only"},
      {"role probe unknown",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {role: zk.leadr}, process: "
       "p}\n",
       "t.yaml:3:52: unknown role probe 'zk.leadr' in target; did you mean 'zk.leader'?"},
      {"role probe names no hosts",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {role: zk.quorum}, process: "
       "p}\n",
       "t.yaml:3:52: probe 'zk.quorum' does not name hosts, so it cannot be a role target; role "
       "probes are: hdfs.active, zk.leader"},
      {"negative offset",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h}, process: p, "
       "offset: -5s}\n",
       "t.yaml:3:76: offset: expected a duration such as 250ms, 30s, 1m30s or 2h, got '-5s'"},
      {"zero duration",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h}, process: p, "
       "duration: 0s}\n",
       "t.yaml:3:78: expected a duration greater than 0s after 'duration'"},
      {"unknown expectation key",
       WithExpect("  - probe: zk.leader\n    changed: true\n    withn: 30s\n    within: 30s\n"),
       "t.yaml:10:5: unknown key 'withn' in expectation; did you mean 'within'?"},
      {"unknown probe", WithExpect("  - probe: zk.leeder\n    present: true\n    within: 1s\n"),
       "t.yaml:8:12: unknown probe 'zk.leeder' in expectation; did you mean 'zk.leader'?"},
      {"missing probe", WithExpect("  - present: true\n    within: 1s\n"),
       "t.yaml:8:5: missing 'probe' in expectation; expected the name of a probe such as "
       "zk.quorum"},
      {"missing predicate", WithExpect("  - probe: zk.leader\n    within: 1s\n"),
       "t.yaml:8:5: missing predicate in expectation; expected one of equals, not, present, "
       "at_most, at_least, changed"},
      {"two predicates",
       WithExpect("  - probe: zk.leader\n    present: true\n    equals: x\n    within: 1s\n"),
       "t.yaml:10:5: conflicting predicates 'present', 'equals' in expectation; expected exactly "
       "one of equals, not, present, at_most, at_least, changed"},
      {"missing timing", WithExpect("  - probe: zk.leader\n    present: true\n"),
       "t.yaml:8:5: missing timing in expectation; expected one of within, always, never or for"},
      {"two timings",
       WithExpect("  - probe: zk.leader\n    present: true\n    within: 1s\n    always: true\n"),
       "t.yaml:11:5: conflicting 'within', 'always' in expectation; expected exactly one of "
       "within, always, never or for"},
      {"always false", WithExpect("  - probe: zk.leader\n    present: true\n    always: false\n"),
       "t.yaml:10:13: expected 'always: true'; to drop the condition, remove the key"},
      {"at_most not a number",
       WithExpect("  - probe: hdfs.active_count\n    at_most: one\n    always: true\n"),
       "t.yaml:9:14: expected a number after 'at_most', got 'one'"},
      {"equals with a bad map",
       WithExpect("  - probe: hdfs.active\n    equals: {nott: x}\n    within: 1s\n"),
       "t.yaml:9:13: expected a value or {not: value} after 'equals'"},
      {"during unknown fault",
       WithExpect("  - probe: zk.leader\n    present: true\n    within: 1s\n    during: kil\n"),
       "t.yaml:11:13: unknown fault 'kil' in 'during'; did you mean 'kill'?"},
      {"during and after",
       WithExpect("  - probe: zk.leader\n    present: true\n    within: 1s\n    during: kill\n    "
                  "after: kill\n"),
       "t.yaml:12:5: conflicting 'during' and 'after' in expectation; expected at most one window"},
      {"probe param unknown",
       WithExpect("  - probe: tcp\n    host: a\n    prot: 1\n    port: 2\n    present: true\n    "
                  "within: 1s\n"),
       "t.yaml:10:5: unknown key 'prot' in expectation; did you mean 'port'?"},
      {"probe param missing",
       WithExpect("  - probe: tcp\n    host: a\n    present: true\n    within: 1s\n"),
       "t.yaml:8:5: missing parameter 'port' for probe tcp in expectation"},
      {"bad reference",
       WithExpect("  - probe: hdfs.active\n    equals: {not: \"${targets}\"}\n    within: 1s\n"),
       "t.yaml:9:13: unknown reference '${targets}'; expected ${target}, ${before} or "
       "${faults.<name>.target}"},
      {"reference to unknown fault",
       WithExpect("  - probe: hdfs.active\n    not: \"${faults.kil.target}\"\n    within: 1s\n"),
       "t.yaml:9:10: unknown fault 'kil' in '${faults.kil.target}'; did you mean 'kill'?"},
      {"ambiguous target",
       "name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: h}, process: p}\n  - "
       "{name: b, action: process.kill, target: {host: h}, process: p}\n"
       "expect:\n  - {probe: hdfs.active, not: '${target}', within: 5s}\n",
       "t.yaml:6:31: '${target}' is ambiguous with 2 faults; add 'during: <fault>' or 'after: "
       "<fault>', or write ${faults.<name>.target}"},
      {"steady with reference",
       std::string(kFault) + "steady_state:\n  - {probe: hdfs.active, equals: '${target}'}\n",
       "t.yaml:8:34: steady_state checks cannot use references such as '${target}'; they hold with "
       "no fault applied"},
      {"reference in probe parameters",
       WithExpect(
           "  - {probe: tcp, host: '${faults.kil.target}', port: 1, present: true, within: 1s}\n"),
       "t.yaml:8:5: unknown fault 'kil' in '${faults.kil.target}'; did you mean 'kill'?"},
      {"steady with reference in parameters",
       std::string(kFault) +
           "steady_state:\n  - {probe: tcp, host: '${target}', port: 1, present: true}\n",
       "t.yaml:8:5: steady_state checks cannot use references such as '${target}' (in 'host'); "
       "they hold with no fault applied"},
      {"steady with timing",
       std::string(kFault) + "steady_state:\n  - {probe: zk.quorum, equals: true, within: 5s}\n",
       "t.yaml:8:38: unknown key 'within' in steady_state[0]; expected one of: probe, equals, not, "
       "present, at_most, at_least, changed"},
      {"sample_every too fast", std::string(kFault) + "sample_every: 5ms\n",
       "t.yaml:7:15: expected a sampling period between 50ms and 10s, got 5ms"},
      {"quorum flag not bool", std::string(kFault) + "expects_quorum_loss: maybe\n",
       "t.yaml:7:22: expected true or false after 'expects_quorum_loss', got 'maybe'"},
      {"recover unknown key", std::string(kFault) + "recover: {whitin: 5s}\n",
       "t.yaml:7:11: unknown key 'whitin' in recover; did you mean 'within'?"},
      {"recover bad duration", std::string(kFault) + "recover: {within: 1m30}\n",
       "t.yaml:7:19: within: expected a duration such as 250ms, 30s, 1m30s or 2h, got '1m30' (the "
       "unit is required)"},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    EXPECT_EQ(Error(c.yaml), c.message) << c.what;
  }
}

TEST_F(DrillParserTest, SeveralErrorsOnePerLine) {
  std::string msg = Error(R"(name: x
faults:
  - name: a
    action: network.delay
    target: {host: h}
    latency: 20
    jitter: 5
    direction: both
expect:
  - probe: zk.leader
    present: true
    within: soon
    bogus: 1
)");
  EXPECT_EQ(
      msg,
      "t.yaml:6:14: latency: expected a duration such as 250ms, 30s, 1m30s or 2h, got '20' (the "
      "unit is required)\n"
      "t.yaml:7:13: jitter: expected a duration such as 250ms, 30s, 1m30s or 2h, got '5' (the unit "
      "is required)\n"
      "t.yaml:12:13: within: expected a duration such as 250ms, 30s, 1m30s or 2h, got 'soon'\n"
      "t.yaml:13:5: unknown key 'bogus' in expectation; expected one of: probe, equals, not, "
      "present, at_most, "
      "at_least, changed, name, within, always, never, for, during, after");
}

TEST_F(DrillParserTest, InvalidUtf8IsRefusedWithItsPlace) {
  EXPECT_EQ(Error("name: x\ntitle: caf\xe9\n"),
            "t.yaml:2:11: expected UTF-8 text, found a byte that is not");
}

TEST_F(DrillParserTest, ReadsFilesAndNamesMissingOnes) {
  Drill d;
  Status st = ParseDrillFile("/nonexistent/drill.yaml", &d);
  EXPECT_EQ(st.message(), "/nonexistent/drill.yaml: cannot read the drill file");
}

}  // namespace
}  // namespace faultline

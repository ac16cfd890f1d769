#include "orchestrator/plan.h"

#include <gtest/gtest.h>

#include <set>

#include "checks/probe.h"
#include "faults/fault.h"
#include "orchestrator/drill_parser.h"

namespace faultline {
namespace {

// Entries shaped like the real registrations, so these tests stand on their own.
void RegisterTestEntries() {
  using K = FaultParam::Kind;
  auto& cat = FaultCatalogue::Global();
  cat.Register(
      {"process.kill", "kill a process", {{"process", K::kString, true, "", "process"}}, true},
      nullptr);
  cat.Register(
      {"service.stop", "stop a service", {{"service", K::kString, true, "", "service"}}, true},
      nullptr);
  cat.Register(
      {"network.delay",
       "delay packets",
       {{"latency", K::kDuration, true, "", ""}, {"peers", K::kStringList, false, "", "host"}},
       false},
      nullptr);
  cat.Register(
      {"network.partition", "isolate", {{"peers", K::kStringList, false, "", "group"}}, true},
      nullptr);
  cat.Register({"command",
                "run commands",
                {{"inject", K::kCommand, true, "", ""},
                 {"revert", K::kCommand, true, "", ""},
                 {"removes_host", K::kBool, false, "", ""}},
                false},
               nullptr);
  auto& probes = ProbeRegistry::Global();
  probes.Register({"zk.leader", "the leader", {}, true}, nullptr);
  probes.Register({"zk.quorum", "quorum up", {}, false}, nullptr);
  probes.Register({"process.running",
                   "pid alive",
                   {{"process", true, "", "process"}, {"host", false, "", "host"}},
                   false},
                  nullptr);
}

const char* kInventory = R"([zookeeper]
zk[1:5]

[zookeeper:vars]
faultline_quorum=true
faultline_processes={zookeeper: {match: QuorumPeerMain}}

[namenodes]
nn1
nn2

[namenodes:vars]
faultline_processes={namenode: {match: proc_namenode}}
faultline_services={hdfs-namenode: {start: systemctl start nn, stop: systemctl stop nn}}

[edge]
gw faultline_processes="{}"
)";

class PlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterTestEntries(); }
  void SetUp() override {
    Status st = LoadInventoryText(kInventory, "inv.ini", &inv_);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  Drill Parse(const std::string& yaml) {
    Drill d;
    Status st = ParseDrillText(yaml, "d.yaml", &d);
    EXPECT_TRUE(st.ok()) << st.message();
    return d;
  }
  std::string Check(const std::string& yaml) {
    Drill d = Parse(yaml);
    return CheckDrillAgainstInventory(d, inv_).message();
  }
  Inventory inv_;
};

TEST_F(PlanTest, MissingNamesCarryTheDrillMark) {
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {host: nn3}, "
                  "process: namenode}\n"),
            "d.yaml:3:45: unknown host 'nn3' in inventory inv.ini; did you mean 'nn1'?");
  EXPECT_EQ(
      Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: namenode}, "
            "process: namenode}\n"),
      "d.yaml:3:45: unknown group 'namenode' in inventory inv.ini; did you mean 'namenodes'?");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: "
                  "namenodes}, process: datanode}\n"),
            "d.yaml:3:5: process 'datanode' is not defined in faultline_processes of host(s) nn1, "
            "nn2 in inventory "
            "inv.ini");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {hosts: [nn1, "
                  "gw]}, process: namenode}\n"),
            "d.yaml:3:5: process 'namenode' is not defined in faultline_processes of host(s) gw in "
            "inventory inv.ini");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: service.stop, target: {role: "
                  "zk.leader}, service: zookeeper}\n"),
            "d.yaml:3:5: service 'zookeeper' is not defined in faultline_services of any host in "
            "inventory inv.ini");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: network.delay, target: {host: nn1}, "
                  "latency: 1s, peers: [zk1, zk9]}\n"),
            "d.yaml:3:5: unknown host 'zk9' in inventory inv.ini; did you mean 'zk1'?");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: network.delay, target: {host: nn1}, "
                  "latency: 1s}\n"
                  "steady_state:\n  - {probe: process.running, process: zookeeper, host: nn1, "
                  "present: true}\n"),
            "d.yaml:5:5: process 'zookeeper' is not defined in faultline_processes of host(s) nn1 "
            "in inventory inv.ini");
  EXPECT_EQ(
      Check(
          "name: x\nfaults:\n  - {name: a, action: process.kill, target: {role: zk.leader}, "
          "process: zookeeper}\n"
          "expect:\n  - {probe: process.running, process: zookeeper, present: true, within: 5s}\n"),
      "");
  // A probe pointed at the fault's own hosts is resolved at run time.
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {role: "
                  "zk.leader}, process: zookeeper}\n"
                  "expect:\n  - {probe: process.running, process: zookeeper, host: '${target}', "
                  "present: false, within: 5s}\n"),
            "");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: "
                  "namenodes, pick: minority}, process: namenode}\n"),
            "d.yaml:3:45: group 'namenodes' has 2 host(s): too few for a minority; expected a "
            "group of at least 3");
}

TEST_F(PlanTest, QuorumSafetyRule) {
  // A minority of the 5-node ensemble is fine; a majority is refused.
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: "
                  "zookeeper, pick: minority}, process: zookeeper}\n"),
            "");
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: process.kill, target: {group: "
                  "zookeeper, pick: majority}, process: zookeeper}\n"),
            "d.yaml:3:5: fault 'a' can take down 3 of the 5 hosts of quorum group 'zookeeper' at "
            "once, a majority; add "
            "'expects_quorum_loss: true' to the drill if losing the quorum is its point");
  // Three overlapping single-host faults add up to a majority...
  const std::string three =
      "name: x\nfaults:\n"
      "  - {name: a, action: process.kill, target: {host: zk1}, process: zookeeper}\n"
      "  - {name: b, action: network.partition, target: {group: zookeeper, pick: one}, offset: 5s, "
      "duration: 10s}\n"
      "  - {name: c, action: process.kill, target: {role: zk.leader}, process: zookeeper, offset: "
      "10s}\n";
  EXPECT_EQ(Check(three),
            "d.yaml:5:5: faults 'a', 'b', 'c' together can take down 3 of the 5 hosts of quorum "
            "group 'zookeeper' at "
            "once, a majority; add 'expects_quorum_loss: true' to the drill if losing the quorum "
            "is its point");
  // ...unless they do not overlap in time,
  EXPECT_EQ(Check("name: x\nfaults:\n"
                  "  - {name: a, action: process.kill, target: {host: zk1}, process: zookeeper, "
                  "duration: 5s}\n"
                  "  - {name: b, action: process.kill, target: {host: zk2}, process: zookeeper, "
                  "offset: 5s, duration: 5s}\n"
                  "  - {name: c, action: process.kill, target: {host: zk3}, process: zookeeper, "
                  "offset: 10s}\n"),
            "");
  // ...or the drill says the quorum loss is its point.
  EXPECT_EQ(Check(three + "expects_quorum_loss: true\n"), "");
  // Actions that leave a host in its quorum (delay) do not count.
  EXPECT_EQ(Check("name: x\nfaults:\n  - {name: a, action: network.delay, target: {group: "
                  "zookeeper}, latency: 100ms}\n"),
            "");
  // A command fault counts when it says it takes its host out.
  const std::string cmd =
      "name: x\nfaults:\n  - {name: a, action: command, target: {group: zookeeper, pick: "
      "majority}, inject: a, revert: b";
  EXPECT_EQ(Check(cmd + "}\n"), "");
  EXPECT_EQ(Check(cmd + ", removes_host: true}\n"),
            "d.yaml:3:5: fault 'a' can take down 3 of the 5 hosts of quorum group 'zookeeper' at "
            "once, a majority; add "
            "'expects_quorum_loss: true' to the drill if losing the quorum is its point");
  // The same host twice is one host.
  EXPECT_EQ(
      Check("name: x\nfaults:\n"
            "  - {name: a, action: process.kill, target: {hosts: [zk1, zk2]}, process: zookeeper}\n"
            "  - {name: b, action: network.partition, target: {hosts: [zk2, nn1]}}\n"),
      "");
}

TEST_F(PlanTest, PickHostsIsDeterministicAndSized) {
  std::vector<std::string> five = {"zk5", "zk1", "zk3", "zk2", "zk4"};
  EXPECT_EQ(PickHosts(five, TargetSpec::Pick::kAll, "r", "g"),
            (std::vector<std::string>{"zk1", "zk2", "zk3", "zk4", "zk5"}));
  EXPECT_EQ(PickHosts(five, TargetSpec::Pick::kOne, "r", "g").size(), 1u);
  EXPECT_EQ(PickHosts(five, TargetSpec::Pick::kMajority, "r", "g").size(), 3u);
  EXPECT_EQ(PickHosts(five, TargetSpec::Pick::kMinority, "r", "g").size(), 2u);
  EXPECT_EQ(PickHosts({"a", "b", "c"}, TargetSpec::Pick::kMinority, "r", "g").size(), 1u);
  EXPECT_TRUE(PickHosts({"a", "b"}, TargetSpec::Pick::kMinority, "r", "g").empty());
  // The same run id always picks the same hosts; different run ids spread over the group.
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string id = "run-" + std::to_string(i);
    auto a = PickHosts(five, TargetSpec::Pick::kOne, id, "group:zookeeper");
    EXPECT_EQ(a, PickHosts(five, TargetSpec::Pick::kOne, id, "group:zookeeper"));
    seen.insert(a[0]);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST_F(PlanTest, ResolveStaticTarget) {
  std::vector<std::string> hosts;
  TargetSpec t;
  t.kind = TargetSpec::Kind::kGroup;
  t.names = {"zookeeper"};
  t.pick = TargetSpec::Pick::kMajority;
  ASSERT_TRUE(ResolveStaticTarget(t, inv_, "r1", &hosts).ok());
  EXPECT_EQ(hosts, PickHosts(inv_.FindGroup("zookeeper")->hosts, TargetSpec::Pick::kMajority, "r1",
                             "group:zookeeper"));
  t.kind = TargetSpec::Kind::kHost;
  t.names = {"nn2", "nn1", "nn2"};
  ASSERT_TRUE(ResolveStaticTarget(t, inv_, "r1", &hosts).ok());
  EXPECT_EQ(hosts, (std::vector<std::string>{"nn2", "nn1"}));
  t.names = {"nope"};
  t.mark.file = "d.yaml";
  t.mark.line = 4;
  t.mark.column = 13;
  EXPECT_EQ(ResolveStaticTarget(t, inv_, "r1", &hosts).message(),
            "d.yaml:4:13: host 'nope' is not in inventory inv.ini");
  t.kind = TargetSpec::Kind::kRole;
  t.names = {"zk.leader"};
  EXPECT_EQ(ResolveStaticTarget(t, inv_, "r1", &hosts).message(),
            "d.yaml:4:13: role target 'zk.leader' is resolved at run time from its probe");
}

TEST_F(PlanTest, ExceptLeavesHostsOutBeforePicking) {
  std::vector<std::string> hosts;
  TargetSpec t;
  t.kind = TargetSpec::Kind::kGroup;
  t.names = {"zookeeper"};
  t.pick = TargetSpec::Pick::kAll;
  ASSERT_TRUE(ResolveStaticTarget(t, inv_, "r1", &hosts, {"zk2", "zk4"}).ok());
  EXPECT_EQ(hosts, (std::vector<std::string>{"zk1", "zk3", "zk5"}));
  t.pick = TargetSpec::Pick::kOne;
  t.mark = {"d.yaml", 3, 9};
  EXPECT_EQ(ResolveStaticTarget(t, inv_, "r1", &hosts, {"zk1", "zk2", "zk3", "zk4", "zk5"}).message(),
            "d.yaml:3:9: pick one of group 'zookeeper' (5 hosts, except zk1, zk2, zk3, zk4, zk5) names no host");
  // In a plan: a host name is left out at once; the hosts of an earlier static fault too;
  // those of a role fault only when it lands.
  Drill d = Parse(
      "name: x\nexpects_quorum_loss: true\nfaults:\n"
      "  - {name: a, action: process.kill, target: {hosts: [zk1, zk2]}, process: zookeeper}\n"
      "  - {name: b, action: process.kill, target: {group: zookeeper, except: [zk5, '${faults.a.target}']}, "
      "process: zookeeper, offset: 1s}\n"
      "  - {name: c, action: process.kill, target: {role: zk.leader}, process: zookeeper, offset: 2s}\n"
      "  - {name: e, action: process.kill, target: {group: zookeeper, pick: one, except: '${faults.c.target}'}, "
      "process: zookeeper, offset: 3s}\n");
  Plan plan;
  ASSERT_TRUE(BuildPlan(d, inv_, "r", &plan).ok());
  std::vector<std::string> b_hosts, e_hosts;
  for (const auto& a : plan.actions) {
    if (a.inject && a.fault == "b") b_hosts.push_back(a.host);
    if (a.inject && a.fault == "e") {
      e_hosts.push_back(a.host);
      EXPECT_TRUE(a.at_run_time);
      EXPECT_NE(a.what.find("except ${faults.c.target}, resolved at run time"), std::string::npos) << a.what;
    }
  }
  EXPECT_EQ(b_hosts, (std::vector<std::string>{"zk3", "zk4"}));
  EXPECT_EQ(e_hosts, (std::vector<std::string>{"group:zookeeper"}));
}

TEST_F(PlanTest, CommandsAreShownShellQuoted) {
  Drill d = Parse(
      "name: x\nfaults:\n  - {name: c, action: command, target: {host: nn1}, inject: [sh, -c, "
      "'kill -STOP 1'], "
      "revert: [sh, -c, \"kill -CONT 1\"]}\n");
  Plan plan;
  ASSERT_TRUE(BuildPlan(d, inv_, "r", &plan).ok());
  EXPECT_EQ(plan.actions[0].what, "inject=[sh -c 'kill -STOP 1'] revert=[sh -c 'kill -CONT 1']");
}

TEST_F(PlanTest, PlanListsEveryActionInOrder) {
  Drill d = Parse(R"(name: F1
faults:
  - name: slow
    action: network.delay
    target: {hosts: [nn2, nn1]}
    latency: 200ms
    offset: 5s
    duration: 20s
  - name: kill-leader
    action: process.kill
    target: {role: zk.leader}
    process: zookeeper
    duration: 30s
  - name: iso
    action: network.partition
    target: {host: zk1}
    offset: 10s
steady_state:
  - {probe: zk.quorum, equals: true}
expect:
  - {probe: zk.leader, not: "${target}", within: 10s, during: kill-leader}
)");
  ASSERT_TRUE(CheckDrillAgainstInventory(d, inv_).ok());
  Plan plan;
  ASSERT_TRUE(BuildPlan(d, inv_, "r7", &plan).ok());
  EXPECT_EQ(FormatPlan(plan), R"(drill F1 (d.yaml) on inventory inv.ini
run id r7 (group picks depend on it: pass the same --run-id to faultline run)

before any fault, steady state must hold:
  zk.quorum = true

timeline (from the first injection; 'end' = when the fault phase ends):
  +0s     inject role:zk.leader  kill-leader (process.kill)  pick all of the hosts zk.leader names, resolved at run time from zk.leader; process=zookeeper
  +5s     inject nn1             slow (network.delay)  latency=200ms
  +5s     inject nn2             slow (network.delay)  latency=200ms
  +10s    inject zk1             iso (network.partition)
  +25s    revert nn1             slow (network.delay)
  +25s    revert nn2             slow (network.delay)
  +30s    revert role:zk.leader  kill-leader (process.kill)
  end     revert zk1             iso (network.partition)

host by host:
role:zk.leader  (resolved at run time)
  +0s     inject kill-leader (process.kill)  pick all of the hosts zk.leader names, resolved at run time from zk.leader; process=zookeeper
  +30s    revert kill-leader (process.kill)
nn1
  +5s     inject slow (network.delay)  latency=200ms
  +25s    revert slow (network.delay)
nn2
  +5s     inject slow (network.delay)  latency=200ms
  +25s    revert slow (network.delay)
zk1
  +10s    inject iso (network.partition)
  end     revert iso (network.partition)

expectations:
  expect[0]: zk.leader ≠ ${target} within 10s of kill-leader

then every fault is reverted and steady state must hold again.
)");
}

}  // namespace
}  // namespace faultline

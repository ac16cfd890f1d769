#include "orchestrator/expect.h"

#include <gtest/gtest.h>

namespace faultline {
namespace {

using R = JournalVerdict::Result;
using nlohmann::json;

Expectation Make(const std::string& probe, Predicate::Op op, json operand, Expectation::Mode mode,
                 int span_ms = 0, Expectation::Window window = Expectation::Window::kDrill,
                 const std::string& anchor = "") {
  Expectation e;
  e.id = "e1";
  e.probe.name = probe;
  e.predicate.op = op;
  e.predicate.operand = std::move(operand);
  e.mode = mode;
  e.span = Millis(span_ms);
  e.window = window;
  e.anchor = anchor;
  return e;
}

// kill-active on nn1 injected at 1000 ms, reverted at 5000 ms; recovery over at 9000 ms.
EvalContext Ctx(double observed_until = 9000, bool over = true) {
  EvalContext c;
  c.faults["kill-active"] = FaultTimes{{"nn1"}, 1000.0, 5000.0};
  c.first_fault = "kill-active";
  if (over) c.drill_end_ms = 9000;
  c.observed_until_ms = observed_until;
  return c;
}

TimedValue S(double t, json v) { return TimedValue{t, std::move(v), false, ""}; }
TimedValue U(double t, const std::string& why = "connection refused") { return TimedValue{t, json(), true, why}; }

Expectation FailoverWithin30s() {
  return Make("hdfs.active", Predicate::Op::kEquals, json{{"not", "${target}"}}, Expectation::Mode::kWithin, 30000);
}

TEST(Within, PassMessageHasTheReportShape) {
  EvalContext c = Ctx(40000);
  c.drill_end_ms = 40000;
  auto ev = EvaluateExpectation(FailoverWithin30s(), {S(900, "nn1"), S(1100, "nn1"), S(5200, "nn2")}, c);
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_TRUE(ev.final);
  EXPECT_EQ(ev.verdict.message, "expected hdfs.active ≠ nn1 within 30s of kill-active; observed nn2 at +4.2s");
  EXPECT_DOUBLE_EQ(*ev.verdict.recovery_ms, 4200);
  EXPECT_DOUBLE_EQ(*ev.verdict.deadline_ms, 31000);
  EXPECT_DOUBLE_EQ(*ev.verdict.window_start_ms, 1000);
}

TEST(Within, TrueExactlyAtTheDeadlineCounts) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, "down"), S(2999, "down"), S(3000, "up"), S(3001, "down")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_EQ(ev.verdict.observed, "up at +2.0s");
}

TEST(Within, TrueJustAfterTheDeadlineFails) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, "down"), S(3000, "down"), S(3001, "up"), S(3100, "down")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_TRUE(ev.final);
  EXPECT_EQ(ev.verdict.message, "expected p = up within 2s of kill-active; observed down until +2.0s");
}

TEST(Within, FlappingBeforeTheDeadlinePassesAtTheFirstTrue) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 2000);
  auto ev = EvaluateExpectation(e, {S(1200, "up"), S(1300, "down"), S(2900, "up")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_EQ(ev.verdict.observed, "up at +0.2s");
}

TEST(Within, UnreachableDuringTheWindowIsUnknownNotFail) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, "down"), U(2000), S(3000, "down")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
  EXPECT_TRUE(ev.final);
  EXPECT_EQ(ev.verdict.observed, "probe unreachable: connection refused at +1.0s; never seen true otherwise");
}

TEST(Within, UnreachableSamplesNeverPass) {
  auto e = Make("p", Predicate::Op::kAbsent, json(), Expectation::Mode::kWithin, 2000);
  // null from an unreachable probe looks "absent", but it is not an observation.
  auto ev = EvaluateExpectation(e, {U(1500), U(2500), S(3000, "x")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
}

TEST(Within, DeadlineNotReachedYetIsProvisional) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, "down"), S(2000, "down")}, Ctx(2500, false));
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
  EXPECT_FALSE(ev.final);
}

TEST(Within, DuringFaultWindowEndsAtTheRevert) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 30000,
                Expectation::Window::kDuringFault, "kill-active");
  // Only true after the revert at 5000: the fault window closed first.
  auto ev = EvaluateExpectation(e, {S(1000, "down"), S(4900, "down"), S(5100, "up")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_EQ(ev.verdict.expected, "p = up within 30s of kill-active, while it lasts");
}

TEST(Within, AfterRevertCountsFromTheRevert) {
  auto e = Make("p", Predicate::Op::kEquals, "up", Expectation::Mode::kWithin, 3000,
                Expectation::Window::kAfterRevert, "kill-active");
  auto ev = EvaluateExpectation(e, {S(1000, "up"), S(5000, "down"), S(6500, "up")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_EQ(ev.verdict.message, "expected p = up within 3s of kill-active's revert; observed up at +1.5s");
}

TEST(Always, RealViolationFailsEvenAfterUnreachable) {
  auto e = Make("hdfs.active_count", Predicate::Op::kAtMost, 1, Expectation::Mode::kAlways);
  auto ev = EvaluateExpectation(e, {S(1000, 1), U(1100), S(1200, 2), S(1300, 1)}, Ctx(1300, false));
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_TRUE(ev.final);  // nothing later can undo a broken invariant
  EXPECT_EQ(ev.verdict.message, "expected always hdfs.active_count ≤ 1 during the drill; observed 2 at +0.2s");
}

TEST(Always, UnreachableSampleMakesItUnknown) {
  auto e = Make("hdfs.active_count", Predicate::Op::kAtMost, 1, Expectation::Mode::kAlways);
  auto ev = EvaluateExpectation(e, {S(1000, 1), U(1100, "timed out"), S(1200, 0)}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
  EXPECT_EQ(ev.verdict.observed, "probe unreachable: timed out at +0.1s");
}

TEST(Always, HeldEverywhereIsPassOnlyOnceTheWindowCloses) {
  auto e = Make("n", Predicate::Op::kAtMost, "1", Expectation::Mode::kAlways);
  std::vector<TimedValue> s = {S(500, 5), S(1000, 1), S(4000, "0"), S(9000, 1), S(9500, 7)};
  auto open = EvaluateExpectation(e, {s.begin(), s.begin() + 3}, Ctx(8000, false));
  EXPECT_EQ(open.verdict.result, R::kUnknown);
  EXPECT_FALSE(open.final);
  auto closed = EvaluateExpectation(e, s, Ctx());
  EXPECT_EQ(closed.verdict.result, R::kPass);  // 500 and 9500 are outside the window
  EXPECT_EQ(closed.verdict.observed, "held at all 3 samples over 8.0s");
}

TEST(Always, EmptyWindowIsUnknown) {
  auto e = Make("n", Predicate::Op::kAtMost, 1, Expectation::Mode::kAlways, 0, Expectation::Window::kDuringFault);
  auto ev = EvaluateExpectation(e, {S(500, 1), S(6000, 1)}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
  EXPECT_EQ(ev.verdict.observed, "no samples in the window");
}

TEST(Never, SplitBrainIsCaught) {
  auto e = Make("zk.leaders", Predicate::Op::kAtLeast, 2, Expectation::Mode::kNever);
  auto ev = EvaluateExpectation(e, {S(1000, json::array({"zk1"})), S(2000, json::array({"zk1", "zk3"}))}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_EQ(ev.verdict.observed, "[zk1, zk3] at +1.0s");
  EXPECT_EQ(ev.verdict.expected, "never zk.leaders ≥ 2 during the drill");
}

TEST(For, HoldsForTheSpan) {
  auto e = Make("p", Predicate::Op::kEquals, true, Expectation::Mode::kFor, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, false), S(2000, true), S(3000, true), S(4000, true)}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_EQ(ev.verdict.observed, "held from +1.0s to +3.0s");
}

TEST(For, FlappingBreaksTheSpan) {
  auto e = Make("p", Predicate::Op::kEquals, true, Expectation::Mode::kFor, 2000);
  auto ev = EvaluateExpectation(
      e, {S(1000, true), S(2500, true), S(2600, false), S(3000, true), S(4500, true), S(4600, false)}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_EQ(ev.verdict.observed, "held at most 1.5s, from +0.0s");
}

TEST(For, UnreachableInsideTheOnlyStretchIsUnknown) {
  auto e = Make("p", Predicate::Op::kEquals, true, Expectation::Mode::kFor, 2000);
  auto ev = EvaluateExpectation(e, {S(1000, true), U(2000), S(3000, true), S(3100, false)}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
}

TEST(Changed, ComparesWithTheValueJustBeforeTheFault) {
  auto e = Make("zk.leader", Predicate::Op::kChanged, json(), Expectation::Mode::kWithin, 10000);
  auto ev = EvaluateExpectation(e, {S(500, "zk1"), S(900, "zk2"), U(950), S(1500, "zk2"), S(2000, "zk3")}, Ctx());
  EXPECT_EQ(ev.verdict.result, R::kPass);
  EXPECT_EQ(ev.verdict.message, "expected zk.leader changed from zk2 within 10s of kill-active; observed zk3 at +1.0s");
  auto no_before = EvaluateExpectation(e, {S(1500, "zk2"), S(2000, "zk3")}, Ctx());
  EXPECT_EQ(no_before.verdict.result, R::kUnknown);
}

TEST(References, FaultTargetsAndLists) {
  EvalContext c = Ctx();
  c.faults["isolate"] = FaultTimes{{"zk2", "zk3"}, 2000.0, 4000.0};
  auto e = Make("zk.leader", Predicate::Op::kEquals, json{{"not", "${faults.isolate.target}"}},
                Expectation::Mode::kAlways, 0, Expectation::Window::kDuringFault, "isolate");
  auto ev = EvaluateExpectation(e, {S(2500, "zk1"), S(3000, "zk3")}, c);
  EXPECT_EQ(ev.verdict.result, R::kFail);
  EXPECT_EQ(ev.verdict.message, "expected always zk.leader ∉ {zk2, zk3} during isolate; observed zk3 at +1.0s");
  Substitutions subs;
  subs.values["target"] = "nn1";
  json out;
  ASSERT_TRUE(ResolveOperand("${target}:8020", subs, &out).ok());
  EXPECT_EQ(out, "nn1:8020");
  Status st = ResolveOperand("${faults.nope.target}", subs, &out);
  EXPECT_EQ(st.message(), "${faults.nope.target} is not known at this point of the run");
}

TEST(Window, FaultNeverInjectedIsUnknown) {
  EvalContext c = Ctx();
  c.faults["kill-active"].inject_ms.reset();
  c.faults["kill-active"].revert_ms.reset();
  auto ev = EvaluateExpectation(FailoverWithin30s(), {S(100, "nn1")}, c);
  EXPECT_EQ(ev.verdict.result, R::kUnknown);
  EXPECT_TRUE(ev.final);
  EXPECT_EQ(ev.verdict.observed, "nothing: kill-active was not injected");
}

TEST(Window, NeverRevertedFaultClosesAtTheEndOfObservation) {
  EvalContext c = Ctx(7000);
  c.faults["kill-active"].revert_ms.reset();
  auto e = Make("p", Predicate::Op::kEquals, 1, Expectation::Mode::kAlways, 0, Expectation::Window::kDuringFault);
  auto ev = EvaluateExpectation(e, {S(1000, 1), S(7000, 1)}, c);
  EXPECT_EQ(ev.verdict.result, R::kPass);
}

TEST(Predicates, Basics) {
  Predicate p;
  p.op = Predicate::Op::kPresent;
  EXPECT_EQ(PredicateHolds(p, json(), "nn1", std::nullopt), true);
  EXPECT_EQ(PredicateHolds(p, json(), json(), std::nullopt), false);
  EXPECT_EQ(PredicateHolds(p, json(), json::array(), std::nullopt), false);
  EXPECT_EQ(PredicateHolds(p, false, json(), std::nullopt), true);  // present: false
  p.op = Predicate::Op::kEquals;
  EXPECT_EQ(PredicateHolds(p, 2, "2", std::nullopt), true);
  EXPECT_EQ(PredicateHolds(p, json::array({"b", "a"}), json::array({"a", "b"}), std::nullopt), true);
  EXPECT_EQ(PredicateHolds(p, json::array({"a", "b"}), "b", std::nullopt), true);
  p.op = Predicate::Op::kAtLeast;
  EXPECT_EQ(PredicateHolds(p, 2, json::array({"a", "b"}), std::nullopt), true);
  EXPECT_EQ(PredicateHolds(p, 2, json(), std::nullopt), false);
  EXPECT_EQ(PredicateHolds(p, "many", 3, std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace faultline

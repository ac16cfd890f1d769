#include <gtest/gtest.h>

#include "base/duration.h"
#include "base/shell.h"
#include "base/status.h"

namespace faultline {
namespace {

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(ParseDuration("250ms")->count(), 250);
  EXPECT_EQ(ParseDuration("30s")->count(), 30000);
  EXPECT_EQ(ParseDuration("1m30s")->count(), 90000);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(ParseDuration("0s")->count(), 0);
}

TEST(Duration, RejectsSloppyInput) {
  std::string why;
  EXPECT_FALSE(ParseDuration("30", &why));
  EXPECT_EQ(why, "expected a duration such as 250ms, 30s, 1m30s or 2h, got '30' (the unit is required)");
  EXPECT_FALSE(ParseDuration("30sec", &why));
  EXPECT_EQ(why, "expected a duration such as 250ms, 30s, 1m30s or 2h, got '30sec' (unknown unit 'sec'; units are ms, s, m, h)");
  EXPECT_FALSE(ParseDuration("30s1m", &why));
  EXPECT_FALSE(ParseDuration("-5s", &why));
  EXPECT_FALSE(ParseDuration("", &why));
  EXPECT_FALSE(ParseDuration(" 5s", &why));
  EXPECT_FALSE(ParseDuration("5s ", &why));
  EXPECT_FALSE(ParseDuration(".5s", &why));
  EXPECT_FALSE(ParseDuration("5.s", &why));
}

TEST(Duration, FormatRoundTrips) {
  for (long long ms : {0LL, 1LL, 250LL, 1000LL, 90000LL, 3723004LL}) {
    auto back = ParseDuration(FormatDuration(Millis(ms)));
    ASSERT_TRUE(back) << FormatDuration(Millis(ms));
    EXPECT_EQ(back->count(), ms);
  }
  EXPECT_EQ(FormatDuration(Millis(90000)), "1m30s");
}

TEST(Percent, Strict) {
  EXPECT_DOUBLE_EQ(*ParsePercent("20%"), 0.2);
  EXPECT_DOUBLE_EQ(*ParsePercent("0.5%"), 0.005);
  EXPECT_FALSE(ParsePercent("20"));
  EXPECT_FALSE(ParsePercent("120%"));
  EXPECT_FALSE(ParsePercent("20 %"));
  EXPECT_FALSE(ParsePercent("%"));
}

TEST(Bytes, Units) {
  EXPECT_EQ(*ParseBytes("4096"), 4096u);
  EXPECT_EQ(*ParseBytes("64MiB"), 64ull << 20);
  EXPECT_EQ(*ParseBytes("1G"), 1ull << 30);
  EXPECT_FALSE(ParseBytes("12parsecs"));
}

TEST(Shell, QuotesEverythingUnsafe) {
  EXPECT_EQ(ShellQuote("iptables"), "iptables");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("$(rm -rf /)"), "'$(rm -rf /)'");
  EXPECT_EQ(ShellJoin({"echo", "a;b", "c"}), "echo 'a;b' c");
}

TEST(Status, AnnotateKeepsCode) {
  Status s = Status::Unavailable("connection refused").Annotate("zk1");
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.ToString(), "unavailable: zk1: connection refused");
}

}  // namespace
}  // namespace faultline

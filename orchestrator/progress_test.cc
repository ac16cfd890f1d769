#include "orchestrator/progress.h"

#include <cstdio>
#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace faultline {
namespace {

std::string Capture(bool live, void (*script)(Progress&)) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  {
    Progress p(f, live);
    script(p);
  }
  std::fclose(f);
  std::string out(buf, len);
  free(buf);
  return out;
}

void Script(Progress& p) {
  p.Drill("F3");
  p.Phase("faults");
  p.Awaiting(1500, "hdfs.active ≠ nn1 within 30s of kill-active");
  p.Awaiting(1550, "hdfs.active ≠ nn1 within 30s of kill-active");
  p.Event("injected kill-active (process.kill) on nn1");
  p.Awaiting(12000, "hdfs.active ≠ nn1 within 30s of kill-active");
  p.Done();
}

TEST(Progress, PlainOutputIsTimestampedLinesWithoutRepeats) {
  std::string out = Capture(false, Script);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  std::regex line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[F3\] .*$)");
  size_t lines = 0;
  for (size_t b = 0, e; (e = out.find('\n', b)) != std::string::npos; b = e + 1, ++lines) {
    EXPECT_TRUE(std::regex_match(out.substr(b, e - b), line)) << out.substr(b, e - b);
  }
  // phase, first awaiting, event, and the reminder after 10 s; the repeat at 1.55 s is dropped.
  EXPECT_EQ(lines, 4u) << out;
  EXPECT_NE(out.find("[F3] faults 00:01.5 awaiting hdfs.active ≠ nn1 within 30s of kill-active\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("[F3] faults 00:12.0 awaiting"), std::string::npos) << out;
}

TEST(Progress, TerminalOutputRewritesOneStatusLine) {
  std::string out = Capture(true, Script);
  EXPECT_NE(out.find("\r\033[K[F3] faults 00:01.5  hdfs.active ≠ nn1 within 30s of kill-active"), std::string::npos)
      << out;
  // Redraws are throttled to ten a second.
  EXPECT_EQ(out.find("00:01.5", out.find("00:01.5") + 1), std::string::npos) << out;
  // The event clears the status line before it is printed.
  EXPECT_NE(out.find("\r\033[K[F3] injected kill-active (process.kill) on nn1\n"), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
}

}  // namespace
}  // namespace faultline

// The HTML report: escaping and self-containment checked in the text, and the timeline
// checked in a real browser: the page is rendered by headless Chromium, the screenshot decoded
// and the timeline measured by its colours (lanes per host, fault window length, a fault never
// reverted drawn to the end).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include "orchestrator/report/html.h"
#include "orchestrator/report/png_decode.h"
#include "orchestrator/report/report.h"
#include "orchestrator/report/report_testing.h"

namespace faultline {
namespace {

using testing::FailedFailoverJournal;
using testing::Image;
using testing::TempDir;
using testing::ZkLeaderStopJournal;
namespace tg = timeline_geometry;

struct Rgb {
  int r, g, b;
};

Rgb Parse(const char* hex) {
  unsigned v = static_cast<unsigned>(std::stoul(std::string(hex + 1), nullptr, 16));
  return Rgb{static_cast<int>(v >> 16), static_cast<int>((v >> 8) & 255), static_cast<int>(v & 255)};
}

bool Is(const Image& img, int x, int y, Rgb c) {
  const uint8_t* p = img.At(x, y);
  return std::abs(p[0] - c.r) <= 2 && std::abs(p[1] - c.g) <= 2 && std::abs(p[2] - c.b) <= 2;
}

int Count(const Image& img, Rgb c) {
  int n = 0;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) n += Is(img, x, y, c);
  }
  return n;
}

struct PixelRun {
  int length = 0, x = 0, y = 0;
};

// The longest horizontal run of a colour anywhere in the image.
PixelRun LongestRun(const Image& img, Rgb c) {
  PixelRun best;
  for (int y = 0; y < img.height; ++y) {
    int start = -1;
    for (int x = 0; x <= img.width; ++x) {
      bool in = x < img.width && Is(img, x, y, c);
      if (in && start < 0) start = x;
      if (!in && start >= 0) {
        if (x - start > best.length) best = PixelRun{x - start, start, y};
        start = -1;
      }
    }
  }
  return best;
}

// Vertical runs of a colour in one column: (colour name, length), top to bottom.
std::vector<std::pair<std::string, int>> ColumnRuns(const Image& img, int x,
                                                   const std::vector<std::pair<std::string, Rgb>>& colours,
                                                   int y_from = 0, int y_to = 1 << 30) {
  std::vector<std::pair<std::string, int>> runs;
  for (int y = std::max(0, y_from); y < std::min(img.height, y_to); ++y) {
    std::string name;
    for (const auto& [n, c] : colours) {
      if (Is(img, x, y, c)) name = n;
    }
    if (name.empty()) continue;
    if (!runs.empty() && runs.back().first == name && y > 0 && [&] {
          for (const auto& [n, c] : colours) {
            if (n == name && Is(img, x, y - 1, c)) return true;
          }
          return false;
        }()) {
      ++runs.back().second;
    } else {
      runs.emplace_back(name, 1);
    }
  }
  return runs;
}

// Renders report.html in headless Chromium and decodes the screenshot.
Image Screenshot(const TempDir& dir, const std::string& html_path) {
  std::string png = dir / "shot.png";
  std::string profile = dir / "chromium-profile";  // fresh each time, removed with dir
  auto r = testing::RunProgram(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--force-device-scale-factor=1", "--hide-scrollbars",
       "--user-data-dir=" + profile, "--screenshot=" + png, "--window-size=1400,1000",
       "file://" + html_path},
      dir.path(), std::chrono::seconds(90));
  EXPECT_FALSE(r.timed_out) << "chromium did not finish: " << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // To look at what was measured: FAULTLINE_REPORT_SHOTS=/some/dir keeps a copy of each.
  if (const char* keep = std::getenv("FAULTLINE_REPORT_SHOTS")) {
    std::string stem = std::string(keep) + "/" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::copy_file(png, stem + ".png", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(html_path, stem + ".html",
                               std::filesystem::copy_options::overwrite_existing);
  }
  Image img;
  std::string error;
  std::string bytes = testing::ReadFile(png);
  EXPECT_TRUE(testing::DecodePng(bytes, &img, &error))
      << png << ": " << error << " (chromium said: " << r.output << ")";
  return img;
}

double Px(double t_ms, double end_ms) { return tg::kPlotWidth * t_ms / end_ms; }

TEST(HtmlReport, TimelineIsDrawnInABrowser) {
  TempDir dir;
  ReportPaths paths;
  ASSERT_TRUE(WriteReports({ZkLeaderStopJournal()}, ReportOptions{dir.path(), ""}, &paths).ok());
  Image img = Screenshot(dir, paths.html);
  ASSERT_EQ(img.width, 1400);
  ASSERT_EQ(img.height, 1000);

  const Rgb fault = Parse(timeline_colour::kFault), leader = Parse(timeline_colour::kLeader),
            follower = Parse(timeline_colour::kFollower), down = Parse(timeline_colour::kDown),
            looking = Parse(timeline_colour::kElecting), pass = Parse(timeline_colour::kPass);

  // The fault track: stop-leader from +5 s to +12 s of a 20 s run.
  PixelRun f = LongestRun(img, fault);
  EXPECT_NEAR(f.length, Px(7000, 20000), 3) << "fault window bar at y=" << f.y;
  // Where the plot starts on the screen, from where the fault bar starts.
  int plot_left = f.x - static_cast<int>(std::lround(Px(5000, 20000)));

  // The longest leader stretch is zk2's, +7 s to +14 s.
  PixelRun l = LongestRun(img, leader);
  EXPECT_NEAR(l.length, Px(7000, 20000), 3);
  EXPECT_NEAR(l.x, plot_left + Px(7000, 20000), 3);
  EXPECT_GT(l.y, f.y) << "lanes are drawn below the fault track";

  // A lane per host: at +2.5 s the column crosses zk1 (leader), zk2 and zk3 (followers), each a
  // full lane high, in inventory order.
  auto column = ColumnRuns(img, plot_left + static_cast<int>(Px(2500, 20000)),
                           {{"leader", leader}, {"follower", follower}});
  ASSERT_EQ(column.size(), 3u);
  EXPECT_EQ(column[0], (std::pair<std::string, int>{"leader", 26}));
  EXPECT_EQ(column[1], (std::pair<std::string, int>{"follower", 26}));
  EXPECT_EQ(column[2], (std::pair<std::string, int>{"follower", 26}));

  // Just before +7 s (right ends of segments carry no label) zk1 is down under the fault's
  // hatching and zk2 is looking for a leader. Rows: from the fault track to the last lane.
  auto at6 = ColumnRuns(img, plot_left + static_cast<int>(Px(7000, 20000)) - 3,
                        {{"down", down}, {"looking", looking}, {"follower", follower}}, f.y,
                        f.y + 18 + 10 + 3 * 32);
  ASSERT_GE(at6.size(), 3u);
  EXPECT_EQ(at6[0].first, "down");
  EXPECT_EQ(at6[at6.size() - 2], (std::pair<std::string, int>{"looking", 26}));
  EXPECT_EQ(at6.back(), (std::pair<std::string, int>{"follower", 26}));

  // The deadline of new-leader (+15 s) is a dashed line in the pass colour through the lanes.
  auto deadline = ColumnRuns(img, plot_left + static_cast<int>(std::lround(Px(15000, 20000))),
                             {{"pass", pass}});
  EXPECT_GE(deadline.size(), 8u) << "expected a dashed line";
  // Nothing was left behind, so the loud colour is nowhere.
  EXPECT_EQ(Count(img, Parse(timeline_colour::kUnreverted)), 0);
}

TEST(HtmlReport, AFaultNeverRevertedIsLoud) {
  TempDir dir;
  ReportPaths paths;
  ASSERT_TRUE(WriteReports({FailedFailoverJournal()}, ReportOptions{dir.path(), ""}, &paths).ok());
  Image img = Screenshot(dir, paths.html);
  ASSERT_GT(img.width, 0);
  // kill-active from +8 s, never reverted: drawn to the end of the 20 s picture.
  PixelRun u = LongestRun(img, Parse(timeline_colour::kUnreverted));
  EXPECT_NEAR(u.length, Px(12000, 20000), 3);
  EXPECT_EQ(Count(img, Parse(timeline_colour::kFault)), 0);
  // The failed expectation's deadline (+10 s) in the fail colour.
  Rgb fail = Parse(timeline_colour::kFail);
  int plot_left = u.x - static_cast<int>(std::lround(Px(8000, 20000)));
  auto deadline = ColumnRuns(img, plot_left + static_cast<int>(std::lround(Px(10000, 20000))),
                             {{"fail", fail}});
  EXPECT_GE(deadline.size(), 4u);
}

TEST(HtmlReport, EscapesEverythingAndFetchesNothing) {
  Journal j = ZkLeaderStopJournal();
  j.drill = "<script>alert('drill')</script>";
  j.hosts.push_back("zk4\"><img src=x onerror=alert(1)>");
  j.roles.push_back({"zk4\"><img src=x onerror=alert(1)>", 0, "<b>role</b>"});
  j.notes.push_back("note & <iframe src=\"https://example.invalid\">");
  j.leftovers.push_back("zk1: </li></ul><script>evil()</script>");
  j.verdicts[0].observed = "<svg onload=alert(2)>";
  j.attachments = {{"log <1>", "javascript:alert(3)"}, {"pcap", "//evil.example/x.pcap"},
                   {"ok", "logs/zk1 #1.log"}};
  std::string html = HtmlReport({j});

  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<iframe"), std::string::npos);
  EXPECT_EQ(html.find("<b>role"), std::string::npos);
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;drill&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("href=\"javascript%3Aalert%283%29\""), std::string::npos);
  EXPECT_NE(html.find("href=\".//evil.example/x.pcap\""), std::string::npos);
  EXPECT_NE(html.find("href=\"logs/zk1%20%231.log\""), std::string::npos);

  // Only the page's own elements exist (everything from the journal became text), and no
  // attribute fetches anything: no src, no absolute URL other than the SVG namespace name.
  static const std::set<std::string> kOwnTags = {
      "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h4", "p",
      "code", "table", "thead", "tbody", "tr", "th", "td", "span", "a", "section", "div", "svg",
      "line", "text", "rect", "circle", "defs", "pattern", "details", "summary", "ul", "li",
      "strong", "br"};
  std::regex tag(R"(<(/?)([!A-Za-z][A-Za-z0-9-]*)[^>]*>)");
  std::regex fetches(R"(\s(src|srcset|xlink:href)=|="(https?:)?//|href="[a-z]+:)");
  int tags = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator();
       ++it, ++tags) {
    std::string whole = it->str(0);
    EXPECT_TRUE(kOwnTags.count(it->str(2))) << "unexpected element: " << whole;
    std::string without_ns = std::regex_replace(whole, std::regex(R"(xmlns="http://www\.w3\.org/2000/svg")"), "");
    EXPECT_FALSE(std::regex_search(without_ns, fetches)) << "fetches something: " << whole;
  }
  EXPECT_GT(tags, 100);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
}

TEST(HtmlReport, ShowsVerdictsActionsNotesAndLeftovers) {
  std::string html = HtmlReport({ZkLeaderStopJournal(), FailedFailoverJournal()});
  EXPECT_NE(html.find("<span class=\"badge pass\">PASS</span> F1 — One ZooKeeper server stopped"),
            std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge leftover\">FAULT LEFT BEHIND</span> F3"),
            std::string::npos);
  EXPECT_NE(html.find("<li>nn1: namenode not started again (revert failed: ssh: connection timed "
                      "out)</li>"),
            std::string::npos);
  EXPECT_NE(html.find("<li>netem missing on zk2: NFQUEUE delayer used</li>"), std::string::npos);
  EXPECT_NE(html.find("<td>hdfs.active ≠ nn1 within 2s of kill-active</td><td>nn2 at +3.0s</td>"
                      "<td>+11.0s<br><span class=\"dim nowrap\">deadline +10.0s</span></td>"
                      "<td class=\"nowrap\">3.0s</td>"
                      "<td class=\"verdict\">fail</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<code>kill -9 namenode (pid 4242)</code>"), std::string::npos);
  EXPECT_NE(html.find("FAILED: ssh: connection timed out"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"attachments/zk1/zookeeper.log\">zk1 log</a>"), std::string::npos);
  EXPECT_NE(html.find("unreachable: connect zk1:2181: connection refused"), std::string::npos);
}

}  // namespace
}  // namespace faultline

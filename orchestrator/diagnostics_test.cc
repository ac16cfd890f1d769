// Diagnostics through the local transport: the log window starts where the log stood when
// the fault phase began, the election timeline comes from both servers' wordings, and a
// host's capture is attached (as root) or its absence is a note.
#include "orchestrator/diagnostics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "faults/local_transport.h"
#include "orchestrator/inventory.h"

namespace faultline {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ParseElections, BothWordingsInOrder) {
  const std::string log =
      "2026-12-01 11:12:27,107 [myid:2] - INFO  [quorumd:QuorumPeer@0] - LEADING - LEADER ELECTION TOOK - 200 MS\n"
      "2026-12-01 11:12:28,000 [myid:2] - INFO  [quorumd:QuorumPeer@0] - Notification: my state:LEADING\n"
      "2026-12-01 11:13:01,998 [myid:2] - INFO  [QuorumPeer[myid=2](plain=0.0.0.0:2181)(secure=disabled):"
      "o.a.z.s.q.Follower@75] - FOLLOWING - LEADER ELECTION TOOK - 6350 MS\n";
  auto e = ParseElections("zk2", log);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].time, "2026-12-01 11:12:27,107");
  EXPECT_EQ(e[0].role, "LEADING");
  EXPECT_EQ(e[0].took_ms, 200);
  EXPECT_EQ(e[1].role, "FOLLOWING");
  EXPECT_EQ(e[1].took_ms, 6350);
  EXPECT_EQ(e[1].host, "zk2");
}

TEST(Diagnostics, LogWindowElectionTimelineAndCapture) {
  char tmpl[] = "/tmp/fl-diag-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  struct Cleanup {
    std::string d;
    ~Cleanup() { fs::remove_all(d); }
  } cleanup{dir};
  const std::string log = dir + "/zookeeper.log";
  std::ofstream(log) << "2026-12-01 10:00:00,000 [myid:1] - INFO  [q:QuorumPeer@0] - LEADING - LEADER ELECTION TOOK - 9 MS\n";
  Inventory inv;
  ASSERT_TRUE(LoadInventoryText("[zookeeper]\nzk1 ansible_host=127.0.0.1 zookeeper_client_port=23999 "
                                "faultline_logs='{\"zookeeper\": \"" + log + "\", \"missing\": \"" + dir +
                                    "/nope.log\"}'\n",
                                "hosts.ini", &inv)
                  .ok());
  LocalTransport t("zk1", "");
  Diagnostics d(inv, {}, dir + "/report", "F9", "run-1", [&](const std::string& h) {
    return h == "zk1" ? static_cast<Transport*>(&t) : nullptr;
  });
  d.Begin();
  std::ofstream(log, std::ios::app)
      << "2026-12-01 10:00:05,000 [myid:1] - INFO  [q:QuorumPeer@0] - FOLLOWING - LEADER ELECTION TOOK - 210 MS\n";
  Journal j;
  d.End(&j);
  ASSERT_TRUE(j.attachments.contains("zk1 zookeeper log")) << j.attachments.dump();
  std::string window = Slurp(dir + "/report/" + j.attachments["zk1 zookeeper log"].get<std::string>());
  EXPECT_EQ(window.find("9 MS"), std::string::npos) << "the log before the window was copied: " << window;
  EXPECT_NE(window.find("210 MS"), std::string::npos) << window;
  EXPECT_FALSE(j.attachments.contains("zk1 missing log"));
  ASSERT_TRUE(j.attachments.contains("election timeline"));
  std::string timeline = Slurp(dir + "/report/" + j.attachments["election timeline"].get<std::string>());
  EXPECT_NE(timeline.find("zk1    FOLLOWING  210 ms"), std::string::npos) << timeline;
  bool noted = false;
  for (const auto& n : j.notes) noted = noted || n == "election: 2026-12-01 10:00:05,000 zk1 FOLLOWING after 210 ms";
  EXPECT_TRUE(noted);
  if (geteuid() == 0) {
    ASSERT_TRUE(j.attachments.contains("zk1 capture")) << ::testing::PrintToString(j.notes);
    std::string pcap = Slurp(dir + "/report/" + j.attachments["zk1 capture"].get<std::string>());
    ASSERT_GE(pcap.size(), 24u);
    EXPECT_EQ(static_cast<unsigned char>(pcap[0]), 0xd4);  // little-endian pcap magic a1b2c3d4
    EXPECT_FALSE(fs::exists("/tmp/faultline-run-1-F9-zk1.pcap")) << "the capture was left on the host";
  }
}

}  // namespace
}  // namespace faultline

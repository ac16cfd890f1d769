// Four-letter-word parsing against real ZooKeeper 3.8 output, and the zk.* probes against
// a loopback server that answers with that output.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "checks/probe.h"
#include "checks/zk_fourlw.h"
#include "checks/zk_role_probes.h"
#include "tests/fixture.h"

namespace faultline {
namespace {

std::string Fixture(const std::string& name) { return testing::ReadFixture("zk/" + name); }

TEST(ParseSrvr, LeaderAndFollower) {
  ZkServerStatus s;
  ASSERT_TRUE(ParseSrvr(Fixture("leader-node3-srvr.txt"), &s).ok());
  EXPECT_TRUE(s.serving);
  EXPECT_EQ(s.mode, "leader");
  EXPECT_EQ(s.znode_count, 40026);
  EXPECT_EQ(s.outstanding, 0);
  EXPECT_EQ(s.zxid, 0x100009c58LL);
  ASSERT_TRUE(ParseSrvr(Fixture("follower-node1-srvr.txt"), &s).ok());
  EXPECT_EQ(s.mode, "follower");
}

TEST(ParseSrvr, NotServingAndGarbage) {
  ZkServerStatus s;
  ASSERT_TRUE(ParseSrvr("This ZooKeeper instance is not currently serving requests\n", &s).ok());
  EXPECT_FALSE(s.serving);
  Status st = ParseSrvr("HTTP/1.1 400 Bad Request\r\n", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Mode:"), std::string::npos) << st.message();
}

TEST(ParseMntr, Fields) {
  auto m = ParseMntr(Fixture("leader-node3-mntr.txt"));
  EXPECT_EQ(m["zk_server_state"], "leader");
  EXPECT_EQ(m["zk_synced_followers"], "2");
  EXPECT_EQ(m["zk_quorum_size"], "3");
  EXPECT_EQ(m["zk_znode_count"], "40026");
  EXPECT_EQ(ParseMntr(Fixture("follower-node1-mntr.txt")).count("zk_synced_followers"), 0u);
}

// Answers each four-letter word with a fixture, like one ZooKeeper server.
class FakeServer {
 public:
  FakeServer(int port, std::map<std::string, std::string> answers) : answers_(std::move(answers)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char word[5] = {};
        if (::recv(c, word, 4, MSG_WAITALL) == 4) {
          std::string answer = std::string(word) == "GET " ? HttpAnswer(c) : answers_[word];
          ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
        }
        ::close(c);
      }
    });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }

 private:
  // An AdminServer request: answers["GET <path>"] as JSON with status 200 (ZooKeeper 3.8 answers
  // every command with 200, failures inside the JSON), or 404 when the path is not given.
  std::string HttpAnswer(int c) {
    std::string head = "GET ";
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(c, &ch, 1, 0) == 1) head += ch;
    std::string path = head.substr(4, head.find(' ', 4) - 4);
    auto it = answers_.find("GET " + path);
    std::string status = it == answers_.end() ? "404 Not Found" : "200 OK";
    std::string body = it == answers_.end() ? "" : it->second;
    return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }

  std::map<std::string, std::string> answers_;
  int fd_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ZkProbesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterZkProbes(); }

  // Each test uses its own ports: ctest may run the cases of this binary in parallel.
  void UsePorts(int base) {
    inv_ = Inventory();
    for (int i = 0; i < 3; ++i) {
      std::string name = "zk" + std::to_string(i + 1);
      InventoryHost& h = inv_.hosts[name];
      h.name = name;
      h.vars = {{"ansible_host", "127.0.0.1"}, {"zookeeper_client_port", base + i}};
      h.groups = {"zookeeper", "all"};
      inv_.groups["zookeeper"].hosts.push_back(name);
    }
    inv_.groups["all"].name = "all";
  }

  Observation Sample(const std::string& name, nlohmann::json params = nlohmann::json::object()) {
    ProbeSpec spec;
    spec.name = name;
    spec.params = params;
    std::unique_ptr<Probe> probe;
    Status st = ProbeRegistry::Global().Make(spec, inv_, &probe);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return Observation::Unreachable(st.message());
    struct Ctx : ProbeContext {
      const Inventory& inv;
      explicit Ctx(const Inventory& i) : inv(i) {}
      const Inventory& inventory() const override { return inv; }
      Transport* TransportFor(const std::string&) override { return nullptr; }
      double NowMs() const override { return 0; }
      double StartedAtEpoch() const override { return 0; }
    } ctx(inv_);
    return probe->Sample(ctx, std::chrono::milliseconds(1000));
  }

  Inventory inv_;
};

TEST_F(ZkProbesTest, LeaderFollowerAndADeadServer) {
  UsePorts(22230);
  FakeServer follower(22230, {{"srvr", Fixture("follower-node1-srvr.txt")},
                              {"mntr", Fixture("follower-node1-mntr.txt")},
                              {"ruok", Fixture("follower-node1-ruok.txt")}});
  FakeServer leader(22232, {{"srvr", Fixture("leader-node3-srvr.txt")},
                            {"mntr", Fixture("leader-node3-mntr.txt")},
                            {"ruok", Fixture("leader-node3-ruok.txt")}});
  ASSERT_TRUE(follower.ok() && leader.ok());
  // zk2 (port 22231) has no server at all.
  Observation o = Sample("zk.leader");
  EXPECT_EQ(o.value, "zk3");
  EXPECT_EQ(o.roles["zk1"], "follower");
  EXPECT_EQ(o.roles["zk2"], "unreachable");
  EXPECT_EQ(o.roles["zk3"], "leader");
  EXPECT_EQ(Sample("zk.mode", {{"host", "zk1"}}).value, "follower");
  EXPECT_TRUE(Sample("zk.mode", {{"host", "zk2"}}).unreachable);
  EXPECT_EQ(Sample("zk.mode").value, nlohmann::json({{"zk1", "follower"}, {"zk2", nullptr}, {"zk3", "leader"}}));
  // The leader reports 2 synced followers out of a quorum size of 3.
  EXPECT_EQ(Sample("zk.quorum").value, true);
  EXPECT_EQ(Sample("zk.followers").value, 2);
  EXPECT_EQ(Sample("zk.znode_count").value, 40026);
  EXPECT_EQ(Sample("zk.outstanding", {{"host", "zk1"}}).value, 0);
  EXPECT_EQ(Sample("zk.ruok", {{"host", "zk3"}}).value, true);
  EXPECT_EQ(Sample("zk.serving", {{"host", "zk1"}}).value, true);
}

TEST_F(ZkProbesTest, NoLeaderMeansNoQuorum) {
  UsePorts(22233);
  FakeServer a(22233, {{"srvr", "This ZooKeeper instance is not currently serving requests\n"}});
  FakeServer b(22234, {{"srvr", "This ZooKeeper instance is not currently serving requests\n"}});
  Observation o = Sample("zk.leader");
  EXPECT_TRUE(o.value.is_null());
  EXPECT_EQ(o.roles["zk1"], "not_serving");
  EXPECT_EQ(Sample("zk.quorum").value, false);
  EXPECT_EQ(Sample("zk.serving", {{"host", "zk2"}}).value, false);
  EXPECT_TRUE(Sample("zk.followers").value.is_null());
}

TEST_F(ZkProbesTest, BadParametersNameTheDrillLine) {
  UsePorts(22236);
  ProbeSpec spec;
  spec.name = "zk.mode";
  spec.params = {{"hots", "zk1"}};
  spec.mark.file = "drills/f1.yaml";
  spec.mark.line = 7;
  spec.mark.column = 5;
  std::unique_ptr<Probe> probe;
  Status st = ProbeRegistry::Global().Make(spec, inv_, &probe);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("drills/f1.yaml:7:5: probe zk.mode: unknown parameter 'hots'"), std::string::npos)
      << st.message();
  spec.params = {{"host", "nn1"}};
  st = ProbeRegistry::Global().Make(spec, inv_, &probe);
  EXPECT_NE(st.message().find("host 'nn1' is not one of the ZooKeeper servers"), std::string::npos) << st.message();
}

// ZooKeeper 3.5+ with stock settings answers only srvr; with no AdminServer to read either, the
// figures mntr would give cannot be told, and the probes say so instead of false or -1.
TEST_F(ZkProbesTest, RefusedWordIsUnreachableNeverFalse) {
  UsePorts(22239);
  for (auto& [name, h] : inv_.hosts) h.vars["zookeeper_admin_port"] = 22249;  // nothing listens there
  std::string refused_mntr = Fixture("admin/zk-3.8.0-default-4lw-mntr.txt");
  std::string refused_ruok = Fixture("admin/zk-3.8.0-default-4lw-ruok.txt");
  FakeServer leader(22239, {{"srvr", Fixture("leader-node3-srvr.txt")}, {"mntr", refused_mntr}, {"ruok", refused_ruok}});
  FakeServer f1(22240, {{"srvr", Fixture("follower-node1-srvr.txt")}, {"mntr", refused_mntr}});
  FakeServer f2(22241, {{"srvr", Fixture("follower-node1-srvr.txt")}, {"mntr", refused_mntr}});
  ASSERT_TRUE(leader.ok() && f1.ok() && f2.ok());
  EXPECT_EQ(Sample("zk.leader").value, "zk1");  // srvr still answers
  for (const char* probe : {"zk.quorum", "zk.followers", "zk.znode_count"}) {
    Observation o = Sample(probe);
    EXPECT_TRUE(o.unreachable) << probe << ": " << o.value.dump();
    EXPECT_NE(o.error.find("'mntr' is not in the server's 4lw.commands.whitelist"), std::string::npos) << o.error;
    EXPECT_NE(o.error.find("127.0.0.1:22249/commands/monitor"), std::string::npos) << o.error;
  }
  Observation ruok = Sample("zk.ruok", {{"host", "zk1"}});
  EXPECT_TRUE(ruok.unreachable) << ruok.value.dump();
  EXPECT_NE(ruok.error.find("'ruok' is not in the server's 4lw.commands.whitelist"), std::string::npos) << ruok.error;
}

// The AdminServer's JSON for a server in `mode`: the captured 3.8 `srvr` answer with its state
// set, and `monitor` built from the same server's mntr capture (ZooKeeper's MntrCommand prints
// the monitor map with a zk_ prefix; numbers stay numbers).
std::string AdminSrvr(const std::string& mode) {
  nlohmann::json j = nlohmann::json::parse(Fixture("admin/zk-3.8.0-adminserver-srvr.json"));
  j["server_stats"]["server_state"] = mode;
  return j.dump();
}
std::string AdminMonitor(const std::string& mntr_fixture) {
  nlohmann::json j = nlohmann::json::parse(Fixture("admin/zk-3.8.0-adminserver-monitor.json"));
  for (const auto& [k, v] : ParseMntr(Fixture(mntr_fixture))) {
    std::string key = k.substr(3);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (!v.empty() && *end == '\0') {
      if (v.find('.') == std::string::npos) j[key] = static_cast<long long>(d);
      else j[key] = d;
    } else {
      j[key] = v;
    }
  }
  return j.dump();
}

// Stock 3.8: mntr and ruok refused, the AdminServer on. The probes read monitor and ruok over
// HTTP and give the same values as the four-letter words would.
TEST_F(ZkProbesTest, RefusedWordIsReadFromTheAdminServer) {
  UsePorts(22242);
  int admin_port = 22252;
  for (auto& [name, h] : inv_.hosts) h.vars["zookeeper_admin_port"] = admin_port++;
  std::string refused_mntr = Fixture("admin/zk-3.8.0-default-4lw-mntr.txt");
  std::string refused_ruok = Fixture("admin/zk-3.8.0-default-4lw-ruok.txt");
  FakeServer f1(22242, {{"srvr", Fixture("follower-node1-srvr.txt")}, {"mntr", refused_mntr}, {"ruok", refused_ruok}});
  FakeServer f2(22243, {{"srvr", Fixture("follower-node1-srvr.txt")}, {"mntr", refused_mntr}, {"ruok", refused_ruok}});
  FakeServer leader(22244, {{"srvr", Fixture("leader-node3-srvr.txt")}, {"mntr", refused_mntr}, {"ruok", refused_ruok}});
  FakeServer a1(22252, {{"GET /commands/monitor", AdminMonitor("follower-node1-mntr.txt")},
                        {"GET /commands/ruok", R"({"command":"ruok","error":null})"}});
  FakeServer a2(22253, {{"GET /commands/monitor", AdminMonitor("follower-node1-mntr.txt")}});
  FakeServer a3(22254, {{"GET /commands/monitor", AdminMonitor("leader-node3-mntr.txt")},
                        {"GET /commands/srvr", AdminSrvr("leader")}});
  ASSERT_TRUE(f1.ok() && f2.ok() && leader.ok() && a1.ok() && a2.ok() && a3.ok());
  EXPECT_EQ(Sample("zk.leader").value, "zk3");
  Observation q = Sample("zk.quorum");
  EXPECT_EQ(q.value, true) << q.error;
  EXPECT_EQ(Sample("zk.followers").value, 2);
  EXPECT_EQ(Sample("zk.quorum_size").value, 3);
  EXPECT_EQ(Sample("zk.znode_count").value, 40026);
  EXPECT_EQ(Sample("zk.outstanding", {{"host", "zk1"}}).value, 0);
  Observation r = Sample("zk.ruok", {{"host", "zk1"}});
  EXPECT_EQ(r.value, true) << r.error;
  // zk2's AdminServer has no ruok: a 404 is not an answer, and the probe says where it asked.
  Observation r2 = Sample("zk.ruok", {{"host", "zk2"}});
  EXPECT_TRUE(r2.unreachable) << r2.value.dump();
  EXPECT_NE(r2.error.find("127.0.0.1:22253/commands/ruok"), std::string::npos) << r2.error;
}

// zookeeper_admin_url: the AdminServer is read first, the four-letter word not at all.
TEST_F(ZkProbesTest, AdminUrlIsReadFirst) {
  UsePorts(22245);
  int admin_port = 22255;
  for (auto& [name, h] : inv_.hosts) {
    h.vars["zookeeper_admin_url"] = "http://127.0.0.1:" + std::to_string(admin_port++) + "/zk/commands";
  }
  // The client ports answer nothing useful: only the AdminServer can give these values.
  FakeServer a1(22255, {{"GET /zk/commands/srvr", AdminSrvr("follower")},
                        {"GET /zk/commands/monitor", AdminMonitor("follower-node1-mntr.txt")}});
  FakeServer a2(22256, {{"GET /zk/commands/srvr", AdminSrvr("follower")},
                        {"GET /zk/commands/monitor", AdminMonitor("follower-node1-mntr.txt")}});
  FakeServer a3(22257, {{"GET /zk/commands/srvr", AdminSrvr("leader")},
                        {"GET /zk/commands/monitor", AdminMonitor("leader-node3-mntr.txt")}});
  ASSERT_TRUE(a1.ok() && a2.ok() && a3.ok());
  Observation l = Sample("zk.leader");
  EXPECT_EQ(l.value, "zk3") << l.error;
  EXPECT_EQ(Sample("zk.mode", {{"host", "zk1"}}).value, "follower");
  EXPECT_EQ(Sample("zk.followers").value, 2);
  EXPECT_EQ(Sample("zk.quorum").value, true);
  // A bad URL in the inventory is an error naming the host and the variable.
  inv_.hosts["zk1"].vars["zookeeper_admin_url"] = "ftp://x/commands";
  ProbeSpec spec;
  spec.name = "zk.leader";
  std::unique_ptr<Probe> probe;
  Status st = ProbeRegistry::Global().Make(spec, inv_, &probe);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("zookeeper_admin_url"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("zk1"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace faultline

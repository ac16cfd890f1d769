// Topology files, ranges and subnet arithmetic; no root needed.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "lab/topology.h"

namespace faultline::lab {
namespace {

std::string WriteTemp(const std::string& text) {
  char tmpl[] = "/tmp/fll-topo-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl) << text;
  return tmpl;
}

TEST(Topology, DefaultIsTheDrillCluster) {
  LabTopology t = DefaultTopology(3);
  EXPECT_EQ(t.AllHosts(), (std::vector<std::string>{"zk1", "zk2", "zk3", "nn1", "nn2", "rm1", "rm2", "hm1",
                                                    "hm2", "rs1", "rs2", "rs3", "kafka1", "kafka2", "kafka3"}));
  EXPECT_TRUE(ValidateTopology(t, "default").ok());
  EXPECT_EQ(DefaultTopology(5).FindGroup("zookeeper")->hosts.size(), 5u);
  EXPECT_EQ(t.FindGroup("namenode")->services.size(), 2u);
}

TEST(Topology, Ranges) {
  EXPECT_EQ(ExpandHostRange("zk[1:3]"), (std::vector<std::string>{"zk1", "zk2", "zk3"}));
  EXPECT_EQ(ExpandHostRange("n[08:10]"), (std::vector<std::string>{"n08", "n09", "n10"}));
  EXPECT_EQ(ExpandHostRange("plain"), (std::vector<std::string>{"plain"}));
  EXPECT_EQ(ExpandHostRange("bad[a:b]"), (std::vector<std::string>{"bad[a:b]"}));
}

TEST(Topology, FileWithGroupsAndServices) {
  std::string path = WriteTemp(
      "subnet: 10.99.0.0/24\nbridge: br9\nnetns_prefix: t-\ndata_size: 16MiB\n"
      "groups:\n  workers: ['w[1:4]']\n  namenodes: [nn1]\n"
      "services:\n  namenodes:\n    - {name: nn, program: my-nn, port: 1234}\n");
  LabTopology t;
  Status st = LoadTopology(path, 5, &t);
  std::filesystem::remove(path);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(t.subnet, "10.99.0.0/24");
  EXPECT_EQ(t.data_bytes, 16ull << 20);
  EXPECT_EQ(t.FindGroup("zookeeper")->hosts.size(), 5u) << "--zk sizes a group the file leaves out";
  EXPECT_EQ(t.FindGroup("workers")->hosts.size(), 4u);
  ASSERT_EQ(t.FindGroup("namenodes")->services.size(), 1u);
  EXPECT_EQ(t.FindGroup("namenodes")->services[0].program, "my-nn");
}

TEST(Topology, ErrorsNameTheSpot) {
  std::string path = WriteTemp("subnet: 10.99.0.0/24\nbrigde: x\n");
  LabTopology t;
  Status st = LoadTopology(path, 3, &t);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find(path + ":2:1: unknown key 'brigde'"), std::string::npos) << st.message();
  std::filesystem::remove(path);

  path = WriteTemp("groups:\n  zookeeper: [zk1]\n  x: [zk1]\n");
  st = LoadTopology(path, 3, &t);
  EXPECT_NE(st.message().find("in two groups"), std::string::npos) << st.message();
  std::filesystem::remove(path);

  path = WriteTemp("data_size: lots\n");
  st = LoadTopology(path, 3, &t);
  EXPECT_NE(st.message().find(path + ":1:12: data_size"), std::string::npos) << st.message();
  std::filesystem::remove(path);
}

TEST(Topology, Validation) {
  LabTopology t = DefaultTopology(3);
  t.netns_prefix = "a-very-long-";
  EXPECT_NE(ValidateTopology(t, "x").message().find("too long"), std::string::npos);
  t = DefaultTopology(3);
  t.subnet = "10.1.2.0/28";
  EXPECT_NE(ValidateTopology(t, "x").message().find("too small"), std::string::npos);
  t.subnet = "10.1.2.0";
  EXPECT_FALSE(ValidateTopology(t, "x").ok());
  t = DefaultTopology(3);
  t.groups[1].hosts.push_back("Bad_Name");
  EXPECT_NE(ValidateTopology(t, "x").message().find("lower-case"), std::string::npos);
}

TEST(Ipv4, Overlap) {
  Ipv4Net a, b, c;
  ASSERT_TRUE(ParseIpv4Net("10.77.0.0/24", &a));
  ASSERT_TRUE(ParseIpv4Net("10.77.0.200/32", &b));
  ASSERT_TRUE(ParseIpv4Net("10.77.1.0/24", &c));
  EXPECT_TRUE(a.Overlaps(b));
  EXPECT_FALSE(a.Overlaps(c));
  Ipv4Net wide;
  ASSERT_TRUE(ParseIpv4Net("10.0.0.0/8", &wide));
  EXPECT_TRUE(wide.Overlaps(a));
  EXPECT_EQ(Ipv4ToString(a.base + 10), "10.77.0.10");
  EXPECT_FALSE(ParseIpv4Net("10.77.0.0/33", &a));
}

}  // namespace
}  // namespace faultline::lab

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "orchestrator/inventory.h"

namespace faultline {
namespace {

using nlohmann::json;

Inventory Load(const std::string& text, const std::string& name) {
  Inventory inv;
  Status st = LoadInventoryText(text, name, &inv);
  EXPECT_TRUE(st.ok()) << st.message();
  return inv;
}

std::string Error(const std::string& text, const std::string& name) {
  Inventory inv;
  Status st = LoadInventoryText(text, name, &inv);
  EXPECT_FALSE(st.ok()) << "loaded but should not:\n" << text;
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  return st.message();
}

const char* kIni = R"(# production-like inventory
bastion ansible_connection=local

[zookeeper]
zk[1:3] ansible_user=zkadmin myid_base=10

[namenodes]
nn1 ansible_host=10.1.0.11 rack=1 standby=False weight=2.5 tags="[1, 2]"
nn2:2222 ansible_host="10.1.0.12" label='two words' ssh_key=/k/id

[datanodes]
dn[01:03]

[racks]
node-[a:c]
web[0:6:3]

[hadoop:children]
namenodes
datanodes

[hadoop:vars]
role=hadoop
level=parent
faultline_processes={namenode: {match: "proc_namenode"}, datanode: {pidfile: /run/dn.pid}}

[namenodes:vars]
level=child
standby=True

[zookeeper:vars]
faultline_quorum=true
zookeeper_client_port=2181
level=zk

[all:vars]
level=all
faultline_name=prod-east
faultline_production=yes
kafka_topics=orders, payments
)";

TEST(InventoryIni, GroupsRangesAndChildren) {
  Inventory inv = Load(kIni, "inventories/prod.ini");
  std::vector<std::string> hosts;
  for (const auto& [n, h] : inv.hosts) hosts.push_back(n);
  EXPECT_EQ(hosts, (std::vector<std::string>{"bastion", "dn01", "dn02", "dn03", "nn1", "nn2",
                                             "node-a", "node-b", "node-c", "web0", "web3", "web6",
                                             "zk1", "zk2", "zk3"}));
  EXPECT_EQ(inv.FindGroup("zookeeper")->hosts, (std::vector<std::string>{"zk1", "zk2", "zk3"}));
  EXPECT_EQ(inv.FindGroup("hadoop")->hosts,
            (std::vector<std::string>{"dn01", "dn02", "dn03", "nn1", "nn2"}));
  EXPECT_EQ(inv.FindGroup("hadoop")->children,
            (std::vector<std::string>{"namenodes", "datanodes"}));
  EXPECT_EQ(inv.FindGroup("ungrouped")->hosts, (std::vector<std::string>{"bastion"}));
  EXPECT_EQ(inv.FindGroup("all")->hosts.size(), 15u);
  EXPECT_EQ(inv.FindHost("nn1")->groups, (std::vector<std::string>{"all", "hadoop", "namenodes"}));
  EXPECT_EQ(inv.FindHost("bastion")->groups, (std::vector<std::string>{"all", "ungrouped"}));
  EXPECT_EQ(inv.FindHost("zk2")->mark.ToString(), "inventories/prod.ini:5:1");
  EXPECT_EQ(inv.FindGroup("zookeeper")->mark.ToString(), "inventories/prod.ini:4:2");
  EXPECT_EQ(inv.name(), "prod-east");
  EXPECT_TRUE(inv.production());
}

TEST(InventoryIni, ConnectionVariablesAndTyping) {
  Inventory inv = Load(kIni, "prod.ini");
  const InventoryHost& nn1 = *inv.FindHost("nn1");
  EXPECT_EQ(nn1.address(), "10.1.0.11");
  EXPECT_EQ(nn1.port(), 22);
  EXPECT_EQ(nn1.user(), "root");
  EXPECT_EQ(nn1.transport(), "ssh");
  // Inline host values are Python literals; [group:vars] values are strings.
  EXPECT_EQ(nn1.vars["rack"], json(1));
  EXPECT_EQ(nn1.vars["weight"], json(2.5));
  EXPECT_EQ(nn1.vars["standby"], json(false));  // host beats [namenodes:vars] standby=True
  EXPECT_EQ(nn1.vars["tags"], json("[1, 2]"));  // quoted: a string
  const InventoryHost& nn2 = *inv.FindHost("nn2");
  EXPECT_EQ(nn2.port(), 2222);
  EXPECT_EQ(nn2.address(), "10.1.0.12");
  EXPECT_EQ(nn2.vars["label"], json("two words"));
  EXPECT_EQ(nn2.key_file(), "");
  EXPECT_EQ(nn2.vars["standby"], json("True"));
  EXPECT_EQ(inv.FindHost("zk1")->user(), "zkadmin");
  EXPECT_EQ(inv.FindHost("zk1")->vars["myid_base"], json(10));
  EXPECT_EQ(inv.FindHost("bastion")->transport(), "local");
  // faultline's own variables are normalised where they are written.
  EXPECT_EQ(inv.FindGroup("zookeeper")->vars["faultline_quorum"], json(true));
  EXPECT_EQ(inv.FindHost("zk1")->vars["zookeeper_client_port"], json(2181));
  EXPECT_EQ(inv.FindHost("zk1")->vars["kafka_topics"], (json{"orders", "payments"}));
  EXPECT_EQ(inv.FindHost("dn02")->vars["faultline_processes"],
            (json{{"namenode", {{"match", "proc_namenode"}}},
                  {"datanode", {{"pidfile", "/run/dn.pid"}}}}));
}

TEST(InventoryIni, PrecedenceAllParentChildHost) {
  Inventory inv = Load(kIni, "prod.ini");
  EXPECT_EQ(inv.FindHost("bastion")->vars["level"], json("all"));
  EXPECT_EQ(inv.FindHost("dn01")->vars["level"], json("parent"));
  EXPECT_EQ(inv.FindHost("nn1")->vars["level"], json("child"));
  EXPECT_EQ(inv.FindHost("zk1")->vars["level"], json("zk"));
  EXPECT_EQ(inv.FindHost("nn1")->vars["role"], json("hadoop"));
}

TEST(InventoryIni, DepthBeatsAlphabetAndHostBeatsAll) {
  // "alpha" is a child of "zeta": deeper wins although it sorts first. At equal depth the
  // later name wins ("b" over "a"), as in Ansible.
  Inventory inv = Load(R"([zeta:children]
alpha
[alpha]
h1 v=host
h2
[a]
h2
[b]
h2
[zeta:vars]
v=zeta
w=zeta
[alpha:vars]
v=alpha
w=alpha
[a:vars]
u=a
[b:vars]
u=b
)",
                       "d.ini");
  EXPECT_EQ(inv.FindHost("h1")->vars["v"], json("host"));
  EXPECT_EQ(inv.FindHost("h1")->vars["w"], json("alpha"));
  EXPECT_EQ(inv.FindHost("h2")->vars["v"], json("alpha"));
  EXPECT_EQ(inv.FindHost("h2")->vars["u"], json("b"));
}

const char* kYaml = R"(all:
  vars:
    level: all
    faultline_name: lab
  hosts:
    bastion:
      ansible_connection: local
  children:
    zookeeper:
      vars:
        faultline_quorum: yes
        level: zk
      hosts:
        zk[01:03]:
          ansible_port: 2200
    hadoop:
      vars:
        level: parent
        faultline_services:
          namenode: {start: [systemctl, start, nn], stop: systemctl stop nn}
      children:
        namenodes:
          vars: {level: child}
          hosts:
            nn1: {ansible_host: 10.0.0.1, level: host, ansible_ssh_private_key_file: /keys/id}
            nn2:
)";

TEST(InventoryYaml, GroupsVarsAndPrecedence) {
  Inventory inv = Load(kYaml, "lab.yml");
  EXPECT_EQ(inv.FindGroup("zookeeper")->hosts, (std::vector<std::string>{"zk01", "zk02", "zk03"}));
  EXPECT_EQ(inv.FindGroup("hadoop")->hosts, (std::vector<std::string>{"nn1", "nn2"}));
  EXPECT_EQ(inv.FindGroup("ungrouped")->hosts, (std::vector<std::string>{"bastion"}));
  EXPECT_EQ(inv.FindHost("zk02")->port(), 2200);
  EXPECT_EQ(inv.FindGroup("zookeeper")->vars["faultline_quorum"], json(true));  // YAML 1.1 "yes"
  EXPECT_EQ(inv.FindHost("nn1")->vars["level"], json("host"));
  EXPECT_EQ(inv.FindHost("nn2")->vars["level"], json("child"));
  EXPECT_EQ(inv.FindHost("zk01")->vars["level"], json("zk"));
  EXPECT_EQ(inv.FindHost("bastion")->vars["level"], json("all"));
  EXPECT_EQ(inv.FindHost("nn1")->key_file(), "/keys/id");
  EXPECT_EQ(inv.FindHost("nn1")->address(), "10.0.0.1");
  EXPECT_EQ(inv.FindHost("nn2")->vars["faultline_services"]["namenode"]["start"],
            (json{"systemctl", "start", "nn"}));
  EXPECT_EQ(inv.FindHost("nn1")->mark.ToString(), "lab.yml:25:13");
  EXPECT_EQ(inv.name(), "lab");
  EXPECT_FALSE(inv.production());
}

TEST(InventoryFormat, DetectedByContentWithoutExtension) {
  Inventory a = Load("all:\n  hosts:\n    h1:\n", "hosts");
  EXPECT_NE(a.FindHost("h1"), nullptr);
  Inventory b = Load("h1\nh2 x=1\n", "hosts");
  EXPECT_EQ(b.FindHost("h2")->vars["x"], json(1));
}

TEST(InventoryFile, ReadsFromDiskAndNamesMissingFile) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("inv-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::string d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  std::ofstream(dir + "/site.ini") << "[zk]\nzk1\n";
  Inventory inv;
  ASSERT_TRUE(LoadInventory(dir + "/site.ini", &inv).ok());
  EXPECT_EQ(inv.name(), "site");
  EXPECT_EQ(inv.FindHost("zk1")->mark.ToString(), dir + "/site.ini:2:1");
  Status st = LoadInventory(dir + "/missing.ini", &inv);
  EXPECT_EQ(st.message(), dir + "/missing.ini: cannot read the inventory file");
}

// The commented examples in inventories/ describe one cluster in both formats: they must
// load, and to the same hosts, groups and merged variables.
TEST(InventoryExamples, IniAndYamlAgree) {
  const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path();
  Inventory ini, yml;
  Status a = LoadInventory((root / "inventories/production.ini").string(), &ini);
  Status b = LoadInventory((root / "inventories/production.yml").string(), &yml);
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_TRUE(b.ok()) << b.message();
  ASSERT_EQ(ini.hosts.size(), 16u);
  ASSERT_EQ(ini.hosts.size(), yml.hosts.size());
  for (const auto& [name, h] : ini.hosts) {
    const InventoryHost* other = yml.FindHost(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_EQ(h.vars, other->vars) << name;
    EXPECT_EQ(h.groups, other->groups) << name;
  }
  for (const auto& [name, g] : ini.groups) {
    ASSERT_NE(yml.FindGroup(name), nullptr) << name;
    EXPECT_EQ(g.hosts, yml.FindGroup(name)->hosts) << name;
  }
  EXPECT_EQ(ini.name(), "prod-east");
  EXPECT_TRUE(ini.production());
  EXPECT_EQ(ini.FindHost("nn2.prod.example.com")->port(), 2222);
  EXPECT_EQ(
      ini.FindHost("rs03.prod.example.com")->vars["faultline_processes"]["regionserver"]["match"],
      json("proc_regionserver"));
}

struct BadInventory {
  const char* what;
  std::string text;
  std::string file;
  std::string message;
};

TEST(InventoryErrors, MalformedInventoriesSayWhereAndWhat) {
  const std::vector<BadInventory> cases = {
      {"unknown section type", "[zk:child]\nzk1\n", "i.ini",
       "i.ini:1:5: unknown section type 'child' in [zk:child]; did you mean 'children'?"},
      {"broken header", "[zk\nzk1\n", "i.ini",
       "i.ini:1:1: bad section header '[zk': expected [group], [group:children] or [group:vars]"},
      {"vars without =", "[zk]\nzk1\n[zk:vars]\nquorum\n", "i.ini",
       "i.ini:4:1: expected key=value in [zk:vars], got 'quorum'"},
      {"host var without =", "[zk]\nzk1 ansible_host\n", "i.ini",
       "i.ini:2:5: expected key=value after host 'zk1', got 'ansible_host'"},
      {"range backwards", "[zk]\nzk[3:1]\n", "i.ini",
       "i.ini:2:1: bad range '[3:1]' in host name 'zk[3:1]': the start must not be after the end"},
      {"padded range width", "[zk]\nzk[01:3]\n", "i.ini",
       "i.ini:2:1: bad range '[01:3]' in host name 'zk[01:3]': a zero-padded start and its end "
       "must have the same width"},
      {"unterminated range", "[zk]\nzk[1:3\n", "i.ini",
       "i.ini:2:1: unterminated range in host name 'zk[1:3': expected [start:end]"},
      {"mixed range", "[zk]\nzk[a:3]\n", "i.ini",
       "i.ini:2:1: bad range '[a:3]' in host name 'zk[a:3]': expected numbers ([1:3], [01:03]) or "
       "single letters ([a:c])"},
      {"range without colon", "[zk]\nzk[13]\n", "i.ini",
       "i.ini:2:1: bad range '[13]' in host name 'zk[13]': expected [start:end] or "
       "[start:end:step]"},
      {"vars for undefined group", "[zk]\nzk1\n[zoo:vars]\na=1\n", "i.ini",
       "i.ini:3:1: [zoo:vars] names group 'zoo', which is not defined anywhere (expected a [zoo] "
       "or [zoo:children] section)"},
      {"children loop", "[a:children]\nb\n[b:children]\na\n", "i.ini",
       "i.ini:1:2: groups form a loop through children: a -> b -> a"},
      {"unterminated quote", "[zk]\nzk1 label=\"oops\n", "i.ini",
       "i.ini:2:1: unterminated double quote"},
      {"bad port", "[zk]\nzk1:ssh\n", "i.ini",
       "i.ini:2:5: expected a port number after ':' in host 'zk1:ssh', got 'ssh'"},
      {"two children per line", "[a:children]\nb c\n", "i.ini",
       "i.ini:2:3: expected one group name per line in [a:children], got 'b c'"},
      {"process without a way",
       "[zk]\nzk1\n[zk:vars]\nfaultline_processes={zookeeper: {pattern: QuorumPeerMain}}\n",
       "i.ini",
       "i.ini:4:21: faultline_processes.zookeeper: unknown key 'pattern'; expected one of: match, "
       "pidfile, service"},
      {"process with two ways",
       "[zk]\nzk1\n[zk:vars]\nfaultline_processes={zk: {match: x, pidfile: /p}}\n", "i.ini",
       "i.ini:4:21: faultline_processes.zk: expected one of match or pidfile (with an optional service), or a "
       "service alone, got 2 ways to find it"},
      {"relative pidfile",
       "all:\n  vars:\n    faultline_processes:\n      zk: {pidfile: run/zk.pid}\n", "i.yml",
       "i.yml:4:7: faultline_processes.zk.pidfile: expected an absolute path, got 'run/zk.pid'"},
      {"service without stop",
       "all:\n  vars:\n    faultline_services:\n      nn: {start: systemctl start nn}\n", "i.yml",
       "i.yml:4:7: faultline_services.nn: missing 'stop' (a service needs start and stop "
       "commands)"},
      {"service with empty status",
       "all:\n  vars:\n    faultline_services:\n      nn: {start: a, stop: b, status: []}\n",
       "i.yml",
       "i.yml:4:7: faultline_services.nn.status: expected a command (a string or a list of words)"},
      {"service key typo",
       "all:\n  vars:\n    faultline_services:\n      nn: {start: a, stpo: b}\n", "i.yml",
       "i.yml:4:7: faultline_services.nn: unknown key 'stpo'; did you mean 'stop'?"},
      {"unknown transport", "[zk]\nzk1 faultline_transport=sssh\n", "i.ini",
       "i.ini:2:25: unknown transport 'sssh' in faultline_transport; did you mean 'ssh'?"},
      {"netns without namespace", "[lab]\nh1 faultline_transport=netns\n", "i.ini",
       "i.ini:2:1: host 'h1' uses faultline_transport netns but has no faultline_netns"},
      {"quorum not a bool", "[zk]\nzk1\n[zk:vars]\nfaultline_quorum=maybe\n", "i.ini",
       "i.ini:4:18: faultline_quorum: expected true or false, got \"maybe\""},
      {"port out of range", "[zk]\nzk1 zookeeper_client_port=99999\n", "i.ini",
       "i.ini:2:27: zookeeper_client_port: expected a TCP port (1-65535), got 99999"},
      {"unknown faultline variable", "[zk]\nzk1\n[zk:vars]\nfaultline_proceses={}\n", "i.ini",
       "i.ini:4:20: unknown faultline variable 'faultline_proceses'; did you mean "
       "'faultline_processes'?"},
      {"kafka topics as a map", "all:\n  vars:\n    kafka_topics: {a: 1}\n", "i.yml",
       "i.yml:3:19: kafka_topics: expected a list of topic names or a comma-separated string"},
      {"relative znode parent", "all:\n  vars:\n    hbase_znode_parent: hbase\n", "i.yml",
       "i.yml:3:25: hbase_znode_parent: expected an absolute path starting with '/', got 'hbase'"},
      {"yaml unknown group key", "all:\n  childern:\n    zk:\n", "i.yml",
       "i.yml:2:3: unknown key 'childern' in group 'all'; did you mean 'children'?"},
      {"yaml hosts as list", "all:\n  hosts:\n    - zk1\n    - zk2\n", "i.yml",
       "i.yml:3:5: expected the hosts of group 'all' as a mapping (each host name followed by "
       "':'), got a list"},
      {"yaml syntax", "all:\n  hosts: [zk1\n", "i.yml",
       "i.yml:3:1: end of sequence flow not found"},
      {"yaml top not a map", "- zk1\n", "i.yml",
       "i.yml:1:1: expected a mapping of groups (usually 'all:') at the top of a YAML inventory"},
      {"yaml duplicate host", "all:\n  hosts:\n    zk1:\n    zk1:\n", "i.yml",
       "i.yml:4:5: duplicate key 'zk1' in hosts of group 'all'"},
      {"yaml group not a map", "all:\n  children:\n    zk: [a, b]\n", "i.yml",
       "i.yml:3:9: expected group 'zk' to be a mapping with hosts, vars or children"},
      {"yaml vars not a map", "all:\n  vars: [a]\n", "i.yml",
       "i.yml:2:9: expected a mapping of variables in group 'all'"},
      {"yaml range in hosts", "all:\n  hosts:\n    zk[5:1]:\n", "i.yml",
       "i.yml:3:5: bad range '[5:1]' in host name 'zk[5:1]': the start must not be after the end"},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) EXPECT_EQ(Error(c.text, c.file), c.message) << c.what;
}

TEST(InventoryErrors, OtherPartsVariablesAreChecked) {
  EXPECT_EQ(Error("[zk]\nzk1\n[zk:vars]\nfaultline_agent_lease=10\n", "i.ini"),
            "i.ini:4:23: faultline_agent_lease: expected a duration such as 250ms, 30s, 1m30s or "
            "2h, got '10' (the unit "
            "is required)");
  EXPECT_EQ(Error("[zk]\nzk1 faultline_agent_lease=[1]\n", "i.ini"),
            "i.ini:2:27: faultline_agent_lease: expected a duration such as 10s, got [1]");
  EXPECT_EQ(Error("[zk]\nzk1 faultline_ssh_known_hosts=[1]\n", "i.ini"),
            "i.ini:2:31: faultline_ssh_known_hosts: expected a string, got [1]");
  // Generated inventories write every key; empty means unset.
  Inventory gen = Load(
      "all:\n  vars: {hdfs_nameservice: '', hbase_znode_parent: '', kafka_topics: []}\n  hosts: "
      "{h: }\n",
      "g.yml");
  EXPECT_EQ(gen.FindHost("h")->vars["kafka_topics"], json::array());
  // A name nobody knows yet, and not close to a known one, rides along untouched.
  Inventory inv = Load("[zk]\nzk1 faultline_future_knob=3 faultline_agent_lease=5s\n", "i.ini");
  EXPECT_EQ(inv.FindHost("zk1")->vars["faultline_future_knob"], json(3));
}

TEST(InventoryErrors, SeveralErrorsAreAllReported) {
  EXPECT_EQ(Error("[zk]\nzk1 zookeeper_client_port=0\nzk2 "
                  "faultline_transport=carrier\n[zk:vars]\nfaultline_quorum=perhaps\n",
                  "i.ini"),
            "i.ini:2:27: zookeeper_client_port: expected a TCP port (1-65535), got 0\n"
            "i.ini:3:25: unknown transport 'carrier' in faultline_transport; expected one of: ssh, "
            "local, netns\n"
            "i.ini:5:18: faultline_quorum: expected true or false, got \"perhaps\"");
}

TEST(InventoryErrors, InvalidUtf8IsRefusedWithItsPlace) {
  // Found by inventory_fuzz: such bytes used to reach a JSON dump and abort.
  EXPECT_EQ(Error("[zk]\nzk1\n[zk:vars]\nfaultline_quorum=tr\xc6\x00ue\n", "i.ini"),
            "i.ini:4:20: expected UTF-8 text, found a byte that is not");
  EXPECT_EQ(Error("all:\n  hosts: {\xff: }\n", "i.yml"),
            "i.yml:2:11: expected UTF-8 text, found a byte that is not");
  Inventory inv = Load("[zk]\nzk1 label=\"z\xc3\xbcrich \xe2\x9c\x93\"\n", "i.ini");
  EXPECT_EQ(inv.FindHost("zk1")->vars["label"], json("z\u00fcrich \u2713"));
}

TEST(InventoryErrors, HugeRangesAreRefused) {
  EXPECT_EQ(
      Error("[zk]\nzk[0:99999999]\n", "i.ini"),
      "i.ini:2:1: range '[0:99999999]' in host name 'zk[0:99999999]' names more than 10000 hosts");
}

}  // namespace
}  // namespace faultline

// Reading SSH settings from inventory hosts; no network.
#include <gtest/gtest.h>

#include "faults/ssh_transport.h"
#include "orchestrator/inventory.h"

namespace faultline {
namespace {

InventoryHost Host(nlohmann::json vars) {
  InventoryHost h;
  h.name = "zk1";
  h.vars = std::move(vars);
  return h;
}

TEST(SshEndpoint, Forms) {
  SshEndpoint fb{"", 22, "ops"};
  auto ep = ParseSshEndpoint("admin@bastion.example:2222", fb);
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->user, "admin");
  EXPECT_EQ(ep->address, "bastion.example");
  EXPECT_EQ(ep->port, 2222);
  ep = ParseSshEndpoint("bastion", fb);
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->user, "ops");
  EXPECT_EQ(ep->port, 22);
  ep = ParseSshEndpoint("[fd00::1]:2200", fb);
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->address, "fd00::1");
  EXPECT_EQ(ep->port, 2200);
  EXPECT_FALSE(ParseSshEndpoint("host:99999", fb));
  EXPECT_FALSE(ParseSshEndpoint("host:x", fb));
  EXPECT_FALSE(ParseSshEndpoint("@host", fb));
  EXPECT_FALSE(ParseSshEndpoint("", fb));
}

TEST(SshTargetFromInventory, AnsibleVariables) {
  SshTarget t;
  ASSERT_TRUE(SshTargetFromInventory(
                  Host({{"ansible_host", "10.1.1.1"}, {"ansible_port", 2201}, {"ansible_user", "deploy"},
                        {"ansible_ssh_private_key_file", "/k/id"},
                        {"ansible_ssh_common_args",
                         "-o 'ProxyJump=jump@bastion:2222' -o UserKnownHostsFile=/kh -o StrictHostKeyChecking=accept-new"}}),
                  TransportOptions{}, &t)
                  .ok());
  EXPECT_EQ(t.endpoint.address, "10.1.1.1");
  EXPECT_EQ(t.endpoint.port, 2201);
  EXPECT_EQ(t.endpoint.user, "deploy");
  EXPECT_EQ(t.key_file, "/k/id");
  ASSERT_TRUE(t.jump);
  EXPECT_EQ(t.jump->user, "jump");
  EXPECT_EQ(t.jump->address, "bastion");
  EXPECT_EQ(t.jump->port, 2222);
  EXPECT_EQ(t.known_hosts, "/kh");
  EXPECT_TRUE(t.accept_new_host_keys);
}

TEST(SshTargetFromInventory, DashJAndFaultlineVariables) {
  SshTarget t;
  ASSERT_TRUE(SshTargetFromInventory(Host({{"ansible_ssh_common_args", "-J bastion"},
                                           {"faultline_ssh_known_hosts", "/lab/known_hosts"}}),
                                     TransportOptions{}, &t)
                  .ok());
  ASSERT_TRUE(t.jump);
  EXPECT_EQ(t.jump->address, "bastion");
  EXPECT_EQ(t.jump->user, "root");
  EXPECT_EQ(t.known_hosts, "/lab/known_hosts");
  EXPECT_FALSE(t.accept_new_host_keys);

  TransportOptions explicit_kh;
  explicit_kh.known_hosts = "/cli/known_hosts";
  ASSERT_TRUE(SshTargetFromInventory(Host({{"faultline_jump_host", "a@b:1"},
                                           {"faultline_ssh_known_hosts", "/lab/known_hosts"}}),
                                     explicit_kh, &t)
                  .ok());
  EXPECT_EQ(t.known_hosts, "/cli/known_hosts");
  EXPECT_EQ(t.jump->port, 1);
}

TEST(SshTargetFromInventory, RefusesPasswordsWithoutEchoingThem) {
  SshTarget t;
  Status st = SshTargetFromInventory(Host({{"ansible_ssh_pass", "hunter2"}}), TransportOptions{}, &t);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos);
  EXPECT_NE(st.message().find("faultline_ssh_password_env"), std::string::npos);
  ASSERT_TRUE(SshTargetFromInventory(Host({{"faultline_ssh_password_env", "ZK_SSH_PW"}}),
                                     TransportOptions{}, &t).ok());
  EXPECT_EQ(t.password_env, "ZK_SSH_PW");
}

TEST(SshTargetFromInventory, RefusesWhatItCannotHonour) {
  SshTarget t;
  EXPECT_EQ(SshTargetFromInventory(Host({{"ansible_ssh_common_args", "-o ProxyCommand='nc %h %p'"}}),
                                   TransportOptions{}, &t).code(), Status::Code::kInvalid);
  EXPECT_EQ(SshTargetFromInventory(Host({{"faultline_jump_host", "a,b"}}), TransportOptions{}, &t).code(),
            Status::Code::kInvalid);
  EXPECT_EQ(SshTargetFromInventory(Host({{"faultline_jump_host", "h:0"}}), TransportOptions{}, &t).code(),
            Status::Code::kInvalid);
}

}  // namespace
}  // namespace faultline

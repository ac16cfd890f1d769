// The official ZooKeeper C client (libzookeeper-mt) against quorumd and Apache ZooKeeper
// 3.8 side by side: the same synchronous calls, asynchronous calls and watches on both,
// and the observable results compared line by line.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
// The synchronous API of the multi-threaded library is declared only under THREADED.
#define THREADED 1
#include <zookeeper.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string FourLetter(int port, const std::string& word) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A ZooKeeper still loading its database may accept and never answer.
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)!write(fd, word.data(), word.size());
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

int PickPort(int salt) {
  for (int p = 21900 + (getpid() + salt) % 90;; p = 21900 + (p - 21900 + 7) % 99) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(p));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (free) return p;
  }
}

// A server process and its temp dir, both gone when this goes (also on a failed ASSERT).
class ServerProcess {
 public:
  ServerProcess(bool reference, int port) : port_(port) {
    char tmpl[] = "/tmp/flq-zkc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pid_ = fork();
    if (pid_ == 0) {
      freopen((dir_ + "/stdout").c_str(), "w", stdout);
      freopen((dir_ + "/stderr").c_str(), "w", stderr);
      if (reference) {
        std::string script = std::string(INTEROP_DIR) + "/refzk.sh";
        execl("/bin/bash", "bash", script.c_str(), dir_.c_str(), std::to_string(port).c_str(), nullptr);
      } else {
        std::ofstream cfg(dir_ + "/zoo.cfg");
        cfg << "tickTime=2000\ndataDir=" << dir_ << "/data\nclientPort=" << port
            << "\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n";
        cfg.close();
        execl(QUORUMD_BINARY, QUORUMD_BINARY, (dir_ + "/zoo.cfg").c_str(), nullptr);
      }
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && FourLetter(port, "ruok") != "imok") {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ready() const { return FourLetter(port_, "ruok") == "imok"; }
  std::string hosts() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string dir_;
};

// Everything a client observes, in order, as text.
struct Trace {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  void Add(std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(std::move(s));
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return lines.size() >= n; });
  }
};

std::string StatText(const Stat& s) {
  return "czxid=" + std::to_string(s.czxid) + " mzxid=" + std::to_string(s.mzxid) +
         " pzxid=" + std::to_string(s.pzxid) + " version=" + std::to_string(s.version) +
         " cversion=" + std::to_string(s.cversion) + " aversion=" + std::to_string(s.aversion) +
         " eph=" + (s.ephemeralOwner ? "yes" : "no") + " len=" + std::to_string(s.dataLength) +
         " children=" + std::to_string(s.numChildren) + " times=" + (s.ctime > 0 && s.mtime >= s.ctime ? "ok" : "bad");
}

void GlobalWatcher(zhandle_t*, int type, int state, const char* path, void* ctx) {
  if (type == ZOO_SESSION_EVENT) return;
  static_cast<Trace*>(ctx)->Add("watch type=" + std::to_string(type) + " state=" + std::to_string(state) +
                                " path=" + path);
}

void NodeWatcher(zhandle_t*, int type, int, const char* path, void* ctx) {
  static_cast<Trace*>(ctx)->Add("node-watch type=" + std::to_string(type) + " path=" + path);
}

void StatDone(int rc, const Stat* stat, const void* data) {
  auto* t = static_cast<Trace*>(const_cast<void*>(data));
  t->Add("async-set rc=" + std::to_string(rc) + (stat ? " " + StatText(*stat) : ""));
}

void StringDone(int rc, const char* value, const void* data) {
  auto* t = static_cast<Trace*>(const_cast<void*>(data));
  t->Add("async-create rc=" + std::to_string(rc) + " value=" + (value ? value : "-"));
}

void DataDone(int rc, const char* value, int len, const Stat* stat, const void* data) {
  auto* t = static_cast<Trace*>(const_cast<void*>(data));
  t->Add("async-get rc=" + std::to_string(rc) + " data=" + (value ? std::string(value, static_cast<size_t>(len)) : "-") +
         (stat ? " " + StatText(*stat) : ""));
}

void VoidDone(int rc, const void* data) {
  static_cast<Trace*>(const_cast<void*>(data))->Add("async-delete rc=" + std::to_string(rc));
}

std::vector<std::string> RunClient(const std::string& hosts) {
  Trace trace;
  std::vector<std::string> out;
  auto add = [&](std::string s) { out.push_back(std::move(s)); };
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  zhandle_t* zh = zookeeper_init(hosts.c_str(), GlobalWatcher, 10000, nullptr, &trace, 0);
  if (!zh) return {"init failed"};
  for (int i = 0; i < 200 && zoo_state(zh) != ZOO_CONNECTED_STATE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  add("connected=" + std::to_string(zoo_state(zh) == ZOO_CONNECTED_STATE) +
      " timeout=" + std::to_string(zoo_recv_timeout(zh)));
  char buf[512];
  Stat st{};
  int rc = zoo_create(zh, "/c", "v0", 2, &ZOO_OPEN_ACL_UNSAFE, 0, buf, sizeof buf);
  add("create rc=" + std::to_string(rc) + " path=" + buf);
  rc = zoo_create(zh, "/c", "v0", 2, &ZOO_OPEN_ACL_UNSAFE, 0, buf, sizeof buf);
  add("create-again rc=" + std::to_string(rc));
  rc = zoo_create2(zh, "/c/seq-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE | ZOO_EPHEMERAL, buf, sizeof buf, &st);
  add("create2 rc=" + std::to_string(rc) + " path=" + buf + " " + StatText(st));
  int len = sizeof buf;
  rc = zoo_get(zh, "/c", 0, buf, &len, &st);
  add("get rc=" + std::to_string(rc) + " data=" + std::string(buf, static_cast<size_t>(std::max(len, 0))) + " " + StatText(st));
  rc = zoo_set2(zh, "/c", "v1", 2, 5, &st);
  add("set-badversion rc=" + std::to_string(rc));
  rc = zoo_set2(zh, "/c", "v1", 2, 0, &st);
  add("set rc=" + std::to_string(rc) + " " + StatText(st));
  rc = zoo_exists(zh, "/nope", 0, &st);
  add("exists-none rc=" + std::to_string(rc));
  String_vector kids{};
  rc = zoo_get_children2(zh, "/c", 0, &kids, &st);
  add("children2 rc=" + std::to_string(rc) + " n=" + std::to_string(kids.count) + " " + StatText(st));
  deallocate_String_vector(&kids);
  ACL_vector acl{};
  rc = zoo_get_acl(zh, "/c", &acl, &st);
  add("get-acl rc=" + std::to_string(rc) + " n=" + std::to_string(acl.count) + " scheme=" +
      (acl.count ? acl.data[0].id.scheme : "") + " perms=" + (acl.count ? std::to_string(acl.data[0].perms) : ""));
  deallocate_ACL_vector(&acl);
  rc = zoo_delete(zh, "/c", -1);
  add("delete-notempty rc=" + std::to_string(rc));

  // Multi: one that fails on its last op, then one that succeeds.
  zoo_op_t ops[3];
  zoo_op_result_t results[3];
  char p1[64], p2[64];
  zoo_create_op_init(&ops[0], "/c/m1", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
  zoo_set_op_init(&ops[1], "/c", "m", 1, -1, nullptr);
  zoo_check_op_init(&ops[2], "/c", 99);
  rc = zoo_multi(zh, 3, ops, results);
  add("multi-fail rc=" + std::to_string(rc) + " results=" + std::to_string(results[0].err) + "," +
      std::to_string(results[1].err) + "," + std::to_string(results[2].err));
  zoo_create_op_init(&ops[0], "/c/m1", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
  zoo_create_op_init(&ops[1], "/c/m2-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, p2, sizeof p2);
  zoo_check_op_init(&ops[2], "/c", 1);
  rc = zoo_multi(zh, 3, ops, results);
  add("multi-ok rc=" + std::to_string(rc) + " results=" + std::to_string(results[0].err) + "," +
      std::to_string(results[1].err) + "," + std::to_string(results[2].err) + " p1=" + p1 + " p2=" + p2);

  // Auth and ACLs.
  rc = zoo_add_auth(zh, "digest", "carol:pw", 8, nullptr, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  rc = zoo_create(zh, "/c/private", "s", 1, &ZOO_CREATOR_ALL_ACL, 0, buf, sizeof buf);
  add("create-creator-acl rc=" + std::to_string(rc));
  ACL_vector got{};
  rc = zoo_get_acl(zh, "/c/private", &got, &st);
  add("creator-acl rc=" + std::to_string(rc) + " id=" + (got.count ? std::string(got.data[0].id.scheme) + ":" + got.data[0].id.id : ""));
  deallocate_ACL_vector(&got);

  // Watches, fired before the reply of the write that triggers them, and async calls.
  len = sizeof buf;
  rc = zoo_wget(zh, "/c", NodeWatcher, &trace, buf, &len, &st);
  rc = zoo_wget_children(zh, "/c", NodeWatcher, &trace, &kids);
  deallocate_String_vector(&kids);
  rc = zoo_wexists(zh, "/c/later", NodeWatcher, &trace, &st);
  add("wexists-none rc=" + std::to_string(rc));
  zoo_aset(zh, "/c", "v2", 2, -1, StatDone, &trace);
  zoo_acreate(zh, "/c/later", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, StringDone, &trace);
  zoo_aget(zh, "/c", 0, DataDone, &trace);
  zoo_adelete(zh, "/c/later", -1, VoidDone, &trace);
  trace.WaitFor(7);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> lock(trace.mu);
    for (const auto& l : trace.lines) add(l);
  }
  zookeeper_close(zh);
  return out;
}

TEST(ZkCInterop, SameObservationsOnQuorumdAndZooKeeper) {
  ServerProcess ref(true, PickPort(1));
  ServerProcess ours(false, PickPort(2));
  ASSERT_TRUE(ref.ready()) << "Apache ZooKeeper did not start";
  ASSERT_TRUE(ours.ready()) << "quorumd did not start";
  std::vector<std::string> want = RunClient(ref.hosts());
  std::vector<std::string> got = RunClient(ours.hosts());
  ASSERT_GT(want.size(), 20u);
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    EXPECT_EQ(i < got.size() ? got[i] : "<missing>", i < want.size() ? want[i] : "<missing>") << "line " << i;
  }
}

}  // namespace

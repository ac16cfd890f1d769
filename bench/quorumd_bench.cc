// quorumd against Apache ZooKeeper 3.8 standalone, side by side in one run, through the
// official C client: synchronous create and setData (1 and 16 clients; throughput, p50,
// p99), getData throughput, resident memory idle and with 100,000 znodes, and start-up
// time with that tree. Each client is a session with one call outstanding at a time (a
// closed loop: the next call goes out when the last answer is in), driven from the C
// client's completion thread, so that the load generator, which shares the machine's two
// cores with the server, costs little; the server's CPU time per 1,000 calls is read from
// /proc beside each throughput. Same zoo.cfg settings for both; fsync on (ZooKeeper's forceSync
// default, quorumd's too). Prints a table and the ratios.
//
// usage: quorumd_bench QUORUMD_BINARY REFZK_SCRIPT [--quick] [--memory]
//        quorumd_bench --load IP:PORT[,IP:PORT...] [CLIENTS [DEPTH [SECONDS]]]
// --memory skips the throughput workloads: only the RSS and start-up rows, for both servers.
// Last, the disk's floor: what one writer doing pwrite+fdatasync in a loop gets here, the
// ceiling of any 1-client write rate on this machine.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

// The synchronous API of the multi-threaded library is declared only under THREADED.
#define THREADED 1
#include <zookeeper.h>

#include <algorithm>
#include <iterator>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string FourLetter(int port, const char* word) {
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
    (void)!write(fd, word, 4);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A number from mntr ("zk_cnt_fsynctime" and the like); 0 when absent.
double Mntr(int port, const std::string& key) {
  std::string text = FourLetter(port, "mntr");
  size_t at = text.find(key + "\t");
  return at == std::string::npos ? 0 : std::atof(text.c_str() + at + key.size() + 1);
}

// CPU time (user + system) a process has used, in milliseconds; -1 when it is gone.
double CpuMs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  size_t pos = close + 2;
  while (pos < text.size() && fields.size() < 15) {
    size_t sp = text.find(' ', pos);
    fields.push_back(text.substr(pos, sp - pos));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  if (fields.size() < 13) return -1;
  // Fields 14 and 15 of stat (utime, stime), counted from 3 after the command name.
  double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The whole machine's CPU time in clock ticks since boot: {busy, all}, from /proc/stat.
std::pair<double, double> MachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal;
  double busy = user + nice + sys + irq + softirq + steal;
  return {busy, busy + idle + iowait};
}

// The share of all cores busy between two MachineTicks(), in percent.
double BusyPercent(std::pair<double, double> a, std::pair<double, double> b) {
  double all = b.second - a.second;
  return all > 0 ? 100.0 * (b.first - a.first) / all : 0;
}

class Server {
 public:
  Server(std::string name, bool reference, std::string quorumd, std::string refzk, int port)
      : name_(std::move(name)), reference_(reference), quorumd_(std::move(quorumd)), refzk_(std::move(refzk)),
        port_(port) {
    char tmpl[] = "/tmp/flq-bench-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~Server() {
    Stop(SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Starts and waits until a client can read; returns the milliseconds that took.
  double Start() {
    auto t0 = Clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      freopen((dir_ + "/out").c_str(), "a", stdout);
      freopen((dir_ + "/out").c_str(), "a", stderr);
      if (reference_) {
        execl("/bin/bash", "bash", refzk_.c_str(), dir_.c_str(), std::to_string(port_).c_str(), nullptr);
      } else {
        std::ofstream cfg(dir_ + "/zoo.cfg");
        cfg << "tickTime=2000\ndataDir=" << dir_ << "/data\nclientPort=" << port_
            << "\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n";
        cfg.close();
        execl(quorumd_.c_str(), quorumd_.c_str(), (dir_ + "/zoo.cfg").c_str(), nullptr);
      }
      _exit(127);
    }
    while (FourLetter(port_, "ruok") != "imok") {
      if (Clock::now() - t0 > std::chrono::seconds(120)) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Ms(Clock::now() - t0);
  }
  void Stop(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  long Rss() const { return RssKb(pid_); }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string hosts() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string name_;
  bool reference_;
  std::string quorumd_, refzk_;
  int port_;
  std::string dir_;
  pid_t pid_ = -1;
};

zhandle_t* Connect(const std::string& hosts) {
  zoo_set_debug_level(static_cast<ZooLogLevel>(0));
  zhandle_t* zh = zookeeper_init(hosts.c_str(), nullptr, 30000, nullptr, nullptr, 0);
  for (int i = 0; zh && i < 400 && zoo_state(zh) != ZOO_CONNECTED_STATE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!zh || zoo_state(zh) != ZOO_CONNECTED_STATE) {
    fprintf(stderr, "cannot connect to %s within 10 s\n", hosts.c_str());
    exit(1);
  }
  return zh;
}

// The disk's floor for a lone synchronous writer: pwrite of a 120-byte record into a file
// whose blocks are already written (as both servers' logs are, preallocated), then fdatasync,
// one after the other. A one-client write can never be acknowledged faster than this.
// Returns records per second, or -1 when the file cannot be made.
double DiskFloor(const std::string& dir, int records) {
  std::string path = dir + "/disk-floor";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const size_t kSize = 4u << 20;
  std::string zeros(1u << 16, '\0');
  bool ok = true;
  for (size_t at = 0; ok && at < kSize; at += zeros.size()) {
    ok = pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(zeros.size());
  }
  ok = ok && fdatasync(fd) == 0;
  std::string rec(120, 'r');
  auto t0 = Clock::now();
  int done = 0;
  for (; ok && done < records && static_cast<size_t>(done + 1) * rec.size() < kSize; ++done) {
    ok = pwrite(fd, rec.data(), rec.size(), static_cast<off_t>(done * rec.size())) ==
             static_cast<ssize_t>(rec.size()) &&
         fdatasync(fd) == 0;
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  unlink(path.c_str());
  return ok && done > 0 ? done / secs : -1;
}

struct Result {
  double ops_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double server_cpu_ms_per_kop = 0;  // the server's CPU time per 1,000 calls
  double client_cpu_ms_per_kop = 0;  // this process's (the clients'), the same way
  double machine_busy_pct = 0;       // every core's CPU in use over the run, by anything
  double calls_per_fsync = 0;        // group commit: how many calls shared one fsync
  double fsync_ms = 0;               // the server's own average fsync time
  long errors = 0;
};

// The figures of one workload from every call's latency, the run's length, the server's
// CPU time and its fsyncs over the run.
Result Summarize(std::vector<double> all, long errors, double secs, double cpu, double fsyncs, double fsync_sum,
                 double client_cpu, double busy_pct) {
  std::sort(all.begin(), all.end());
  Result r;
  r.ops_per_s = static_cast<double>(all.size()) / secs;
  r.p50_ms = all.empty() ? 0 : all[all.size() / 2];
  r.p99_ms = all.empty() ? 0 : all[all.size() * 99 / 100];
  r.server_cpu_ms_per_kop = all.empty() ? 0 : cpu * 1000.0 / static_cast<double>(all.size());
  r.client_cpu_ms_per_kop = all.empty() ? 0 : client_cpu * 1000.0 / static_cast<double>(all.size());
  r.machine_busy_pct = busy_pct;
  r.calls_per_fsync = fsyncs > 0 ? static_cast<double>(all.size()) / fsyncs : 0;
  r.fsync_ms = fsyncs > 0 ? fsync_sum / fsyncs : 0;
  r.errors = errors;
  return r;
}

// One client of a closed loop: a session that has one call outstanding at a time and makes
// the next when the last one's answer is in, from the C client's completion thread.
struct LoopClient;
using IssueFn = int (*)(LoopClient*);

struct Loop {
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
};

struct LoopClient {
  zhandle_t* zh = nullptr;
  int c = 0;
  int i = 0;
  int n = 0;
  const std::string* value = nullptr;
  const char* dir = nullptr;
  int round = 0;
  int modulo = 0;
  IssueFn issue = nullptr;
  Clock::time_point start;
  std::vector<double> lat;
  long errors = 0;
  Loop* loop = nullptr;
  char path[64] = "";
  char buf[256] = "";
};

void Next(LoopClient* lc);

void Done(LoopClient* lc, int rc) {
  lc->lat.push_back(Ms(Clock::now() - lc->start));
  if (rc != ZOK) lc->errors++;
  lc->i++;
  Next(lc);
}

// Issues the client's next call, or says it has finished. A call the library refuses at
// once counts as failed and the loop goes on.
void Next(LoopClient* lc) {
  while (lc->i < lc->n) {
    lc->start = Clock::now();
    if (lc->issue(lc) == ZOK) return;
    lc->lat.push_back(Ms(Clock::now() - lc->start));
    lc->errors++;
    lc->i++;
  }
  std::lock_guard<std::mutex> lock(lc->loop->mu);
  if (--lc->loop->running == 0) lc->loop->cv.notify_all();
}

void StringDone(int rc, const char*, const void* data) { Done(static_cast<LoopClient*>(const_cast<void*>(data)), rc); }
void StatDone(int rc, const Stat*, const void* data) { Done(static_cast<LoopClient*>(const_cast<void*>(data)), rc); }
void DataDone(int rc, const char*, int, const Stat*, const void* data) {
  Done(static_cast<LoopClient*>(const_cast<void*>(data)), rc);
}

int IssueCreate(LoopClient* lc) {
  snprintf(lc->path, sizeof lc->path, "%s/c%02d-%d-%06d", lc->dir, lc->c, lc->round, lc->i);
  return zoo_acreate(lc->zh, lc->path, lc->value->data(), static_cast<int>(lc->value->size()), &ZOO_OPEN_ACL_UNSAFE,
                     0, StringDone, lc);
}
int IssueSet(LoopClient* lc) {
  snprintf(lc->path, sizeof lc->path, "%s/c%02d-%d-%06d", lc->dir, lc->c, lc->round, lc->i);
  return zoo_aset(lc->zh, lc->path, lc->value->data(), static_cast<int>(lc->value->size()), -1, StatDone, lc);
}
int IssueGet(LoopClient* lc) {
  snprintf(lc->path, sizeof lc->path, "%s/c%02d-%d-%06d", lc->dir, lc->c, lc->round, lc->i % lc->modulo);
  return zoo_aget(lc->zh, lc->path, 0, DataDone, lc);
}

// `clients` sessions, each a closed loop of `per_client` calls (`issue`), all started at
// once; the server's CPU time over the run is read from /proc.
Result Run(const std::string& hosts, int port, pid_t server, int clients, int per_client, IssueFn issue,
           const char* dir, int round, const std::string& value, int modulo = 1) {
  Loop loop;
  std::vector<LoopClient> lcs(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    LoopClient& lc = lcs[static_cast<size_t>(c)];
    lc.zh = Connect(hosts);
    lc.c = c;
    lc.n = per_client;
    lc.value = &value;
    lc.dir = dir;
    lc.round = round;
    lc.modulo = modulo;
    lc.issue = issue;
    lc.loop = &loop;
    lc.lat.reserve(static_cast<size_t>(per_client));
  }
  double cpu0 = CpuMs(server), me0 = CpuMs(getpid());
  double fsyncs0 = Mntr(port, "zk_cnt_fsynctime"), fsync_sum0 = Mntr(port, "zk_sum_fsynctime");
  auto ticks0 = MachineTicks();
  auto t0 = Clock::now();
  loop.running = clients;
  for (auto& lc : lcs) Next(&lc);
  {
    std::unique_lock<std::mutex> lock(loop.mu);
    loop.cv.wait(lock, [&] { return loop.running == 0; });
  }
  double secs = Ms(Clock::now() - t0) / 1000.0;
  double busy = BusyPercent(ticks0, MachineTicks());
  double cpu = CpuMs(server) - cpu0, me = CpuMs(getpid()) - me0;
  double fsyncs = Mntr(port, "zk_cnt_fsynctime") - fsyncs0, fsync_sum = Mntr(port, "zk_sum_fsynctime") - fsync_sum0;
  std::vector<double> all;
  long errors = 0;
  for (auto& lc : lcs) {
    all.insert(all.end(), lc.lat.begin(), lc.lat.end());
    errors += lc.errors;
  }
  for (auto& lc : lcs) zookeeper_close(lc.zh);
  return Summarize(std::move(all), errors, secs, cpu, fsyncs, fsync_sum, me, busy);
}

// ---- the same closed loops on the wire --------------------------------------------------
// The C client spends two threads and a pipe wake-up per session and call; on two cores
// shared with the server that bounds every server near the same rate (its getData rate).
// These clients speak ZooKeeper's wire protocol themselves, all sessions from one thread
// with poll(2): a connect handshake, then one request outstanding per session, the next
// written as soon as the last reply is in. Nothing else: no pings (a run is far shorter
// than the session timeout), no watches.

void PutInt(std::string* b, int32_t v) {
  uint32_t n = htonl(static_cast<uint32_t>(v));
  b->append(reinterpret_cast<const char*>(&n), 4);
}
void PutLong(std::string* b, int64_t v) {
  PutInt(b, static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
  PutInt(b, static_cast<int32_t>(static_cast<uint64_t>(v) & 0xffffffffu));
}
void PutBuffer(std::string* b, const std::string& v) {
  PutInt(b, static_cast<int32_t>(v.size()));
  b->append(v);
}
int32_t GetInt(const char* p) {
  uint32_t n;
  memcpy(&n, p, 4);
  return static_cast<int32_t>(ntohl(n));
}
// Prefixes the frame with its length.
std::string Framed(const std::string& body) {
  std::string out;
  PutInt(&out, static_cast<int32_t>(body.size()));
  return out + body;
}

enum class WireOp { kCreate = 1, kGetData = 4, kSetData = 5 };

struct WireSession {
  int fd = -1;
  std::string in;
  int i = 0;
  int32_t xid = 0;
  Clock::time_point start;
  bool connected = false;
};

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// A TCP connection to ip:port with the connect request of a new session sent; exits on
// failure (the bench cannot go on without its server).
int OpenWireSession(const std::string& ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    fprintf(stderr, "wire client: cannot connect to %s:%d: %s\n", ip.c_str(), port, strerror(errno));
    exit(1);
  }
  std::string req;
  PutInt(&req, 0);       // protocol version
  PutLong(&req, 0);      // last zxid seen
  PutInt(&req, 30000);   // session timeout
  PutLong(&req, 0);      // session id: a new one
  PutBuffer(&req, std::string(16, '\0'));
  req.push_back('\0');   // not read-only
  if (!WriteAll(fd, Framed(req))) exit(1);
  return fd;
}

// A create request: a persistent znode open to everyone.
std::string CreateBody(int32_t xid, const std::string& path, const std::string& value) {
  std::string body;
  PutInt(&body, xid);
  PutInt(&body, static_cast<int32_t>(WireOp::kCreate));
  PutBuffer(&body, path);
  PutBuffer(&body, value);
  PutInt(&body, 1);  // one ACL: world:anyone, all permissions
  PutInt(&body, 31);
  PutBuffer(&body, "world");
  PutBuffer(&body, "anyone");
  PutInt(&body, 0);  // persistent
  return body;
}

// Takes one whole frame off the front of `in`, when there is one.
bool NextFrame(std::string* in, std::string* frame) {
  if (in->size() < 4 || in->size() < 4 + static_cast<size_t>(GetInt(in->data()))) return false;
  size_t len = static_cast<size_t>(GetInt(in->data()));
  *frame = in->substr(4, len);
  in->erase(0, 4 + len);
  return true;
}

Result RunWire(int port, pid_t server, int clients, int per_client, WireOp op, const char* dir, int round,
               const std::string& value, int modulo = 1) {
  std::vector<WireSession> ss(static_cast<size_t>(clients));
  for (auto& s : ss) s.fd = OpenWireSession("127.0.0.1", port);
  auto request = [&](WireSession& s, int c) {
    char path[64];
    int n = op == WireOp::kGetData ? s.i % modulo : s.i;
    snprintf(path, sizeof path, "%s/c%02d-%d-%06d", dir, c, op == WireOp::kGetData ? 0 : round, n);
    std::string body;
    if (op == WireOp::kCreate) {
      body = CreateBody(++s.xid, path, value);
    } else {
      PutInt(&body, ++s.xid);
      PutInt(&body, static_cast<int32_t>(op));
      PutBuffer(&body, path);
      if (op == WireOp::kGetData) {
        body.push_back('\0');  // no watch
      } else {
        PutBuffer(&body, value);
        PutInt(&body, -1);  // any version
      }
    }
    s.start = Clock::now();
    return WriteAll(s.fd, Framed(body));
  };
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  long errors = 0;
  int running = clients, connecting = clients;
  double cpu0 = 0, me0 = 0, fsyncs0 = 0, fsync_sum0 = 0;
  std::pair<double, double> ticks0;
  Clock::time_point t0;
  std::vector<pollfd> pfds(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) pfds[static_cast<size_t>(c)] = {ss[static_cast<size_t>(c)].fd, POLLIN, 0};
  char buf[65536];
  while (running > 0) {
    if (poll(pfds.data(), pfds.size(), 10000) <= 0) {
      fprintf(stderr, "wire client: no reply within 10 s\n");
      exit(1);
    }
    for (int c = 0; c < clients; ++c) {
      auto& pf = pfds[static_cast<size_t>(c)];
      if (!(pf.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      WireSession& s = ss[static_cast<size_t>(c)];
      ssize_t n = read(s.fd, buf, sizeof buf);
      if (n <= 0) {
        fprintf(stderr, "wire client: session %d closed by the server\n", c);
        exit(1);
      }
      s.in.append(buf, static_cast<size_t>(n));
      std::string frame;
      while (NextFrame(&s.in, &frame)) {
        if (!s.connected) {
          s.connected = true;
          if (--connecting == 0) {
            // Every session is in: the clock starts and every session makes its first call.
            cpu0 = CpuMs(server);
            me0 = CpuMs(getpid());
            fsyncs0 = Mntr(port, "zk_cnt_fsynctime");
            fsync_sum0 = Mntr(port, "zk_sum_fsynctime");
            ticks0 = MachineTicks();
            t0 = Clock::now();
            for (int k = 0; k < clients; ++k) {
              if (!request(ss[static_cast<size_t>(k)], k)) exit(1);
            }
          }
          continue;
        }
        lat[static_cast<size_t>(c)].push_back(Ms(Clock::now() - s.start));
        if (frame.size() < 16 || GetInt(frame.data() + 12) != 0) errors++;
        if (++s.i < per_client) {
          if (!request(s, c)) exit(1);
        } else {
          running--;
        }
      }
    }
  }
  double secs = Ms(Clock::now() - t0) / 1000.0;
  double busy = BusyPercent(ticks0, MachineTicks());
  double cpu = CpuMs(server) - cpu0, me = CpuMs(getpid()) - me0;
  double fsyncs = Mntr(port, "zk_cnt_fsynctime") - fsyncs0, fsync_sum = Mntr(port, "zk_sum_fsynctime") - fsync_sum0;
  for (auto& s : ss) {
    std::string close_req;
    PutInt(&close_req, ++s.xid);
    PutInt(&close_req, -11);  // closeSession
    WriteAll(s.fd, Framed(close_req));
    close(s.fd);
  }
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return Summarize(std::move(all), errors, secs, cpu, fsyncs, fsync_sum, me, busy);
}

// Open-ended load on a running server or ensemble (for ensemble_bench.py): `clients`
// wire sessions spread over `endpoints` (ip:port), each keeping `depth` creates of
// sequential-free unique znodes under /wl in flight, for `seconds` once all are connected.
// Prints "<creates per second> <failed>" on one line.
int RunLoad(const std::vector<std::pair<std::string, int>>& endpoints, int clients, int depth, double seconds) {
  struct Sess {
    int fd = -1;
    std::string in;
    int32_t xid = 0;
    long next = 0;
    bool connected = false;
  };
  std::vector<Sess> ss(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    const auto& ep = endpoints[static_cast<size_t>(c) % endpoints.size()];
    ss[static_cast<size_t>(c)].fd = OpenWireSession(ep.first, ep.second);
  }
  const std::string value(64, 'x');
  const uint64_t salt = static_cast<uint64_t>(getpid()) * 1000003u + static_cast<uint64_t>(time(nullptr));
  auto create = [&](Sess& s, int c, bool parent) {
    char path[96];
    if (parent) {
      snprintf(path, sizeof path, "/wl");
    } else {
      snprintf(path, sizeof path, "/wl/%llx-%02d-%08ld", static_cast<unsigned long long>(salt % 0xffffffffu), c, s.next++);
    }
    return WriteAll(s.fd, Framed(CreateBody(++s.xid, path, parent ? std::string() : value)));
  };
  std::vector<pollfd> pfds(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) pfds[static_cast<size_t>(c)] = {ss[static_cast<size_t>(c)].fd, POLLIN, 0};
  int connecting = clients;
  bool parent_done = false, measuring = false;
  long done = 0, failed = 0;
  Clock::time_point t0, until;
  char buf[65536];
  for (;;) {
    if (measuring && Clock::now() >= until) break;
    if (poll(pfds.data(), pfds.size(), 10000) <= 0) {
      fprintf(stderr, "load: no reply within 10 s\n");
      return 1;
    }
    for (int c = 0; c < clients; ++c) {
      auto& pf = pfds[static_cast<size_t>(c)];
      if (!(pf.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Sess& s = ss[static_cast<size_t>(c)];
      ssize_t n = read(s.fd, buf, sizeof buf);
      if (n <= 0) {
        fprintf(stderr, "load: session %d closed by the server\n", c);
        return 1;
      }
      s.in.append(buf, static_cast<size_t>(n));
      std::string frame;
      while (NextFrame(&s.in, &frame)) {
        if (!s.connected) {
          s.connected = true;
          if (--connecting == 0 && !create(ss[0], 0, true)) return 1;  // /wl, from the first session
          continue;
        }
        if (!parent_done) {  // the reply to /wl (created, or already there): the load starts
          parent_done = true;
          measuring = true;
          t0 = Clock::now();
          until = t0 + std::chrono::microseconds(static_cast<long long>(seconds * 1e6));
          for (int k = 0; k < clients; ++k) {
            for (int d = 0; d < depth; ++d) {
              if (!create(ss[static_cast<size_t>(k)], k, false)) return 1;
            }
          }
          continue;
        }
        if (frame.size() < 16 || GetInt(frame.data() + 12) != 0) failed++;
        done++;
        if (!create(s, c, false)) return 1;
      }
    }
  }
  double secs = Ms(Clock::now() - t0) / 1000.0;
  for (auto& s : ss) close(s.fd);
  printf("%.1f %ld\n", static_cast<double>(done) / secs, failed);
  return 0;
}

// Creates `parent` (empty), when given, then every path through pipelined async creates, all
// in one session (not measured, setup only).
void CreateAll(const std::string& hosts, const char* parent, const std::vector<std::string>& paths,
               const std::string& value) {
  zhandle_t* zh = Connect(hosts);
  if (parent) zoo_create(zh, parent, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  for (const auto& path : paths) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return inflight < 2000; });
      inflight++;
    }
    struct Ctx {
      std::mutex* mu;
      std::condition_variable* cv;
      int* inflight;
    };
    auto* ctx = new Ctx{&mu, &cv, &inflight};
    zoo_acreate(
        zh, path.c_str(), value.data(), static_cast<int>(value.size()), &ZOO_OPEN_ACL_UNSAFE, 0,
        [](int, const char*, const void* data) {
          auto* c = static_cast<Ctx*>(const_cast<void*>(data));
          {
            std::lock_guard<std::mutex> lock(*c->mu);
            (*c->inflight)--;
          }
          c->cv->notify_all();
          delete c;
        },
        ctx);
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return inflight == 0; });
  lock.unlock();
  zookeeper_close(zh);
}

// Fills the tree with n znodes under /big.
void Populate(const std::string& hosts, int n) {
  std::vector<std::string> paths;
  paths.reserve(static_cast<size_t>(n));
  char path[64];
  for (int i = 0; i < n; ++i) {
    snprintf(path, sizeof path, "/big/n%07d", i);
    paths.push_back(path);
  }
  CreateAll(hosts, "/big", paths, std::string(100, 'v'));
}

struct Row {
  std::string what;
  std::string unit;
  double zk = 0;
  double ours = 0;
  bool higher_is_better = true;
  bool compared = true;  // false: the figures describe the run; no side is better for them
  bool zk_known = true;  // false: ZooKeeper does not report this one usably
};

int PickPort(int i) { return 21950 + (getpid() + 13 * i) % 45; }

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--load") {
    // quorumd_bench --load IP:PORT[,IP:PORT...] [CLIENTS [DEPTH [SECONDS]]]
    signal(SIGPIPE, SIG_IGN);
    std::vector<std::pair<std::string, int>> eps;
    std::string list = argv[2];
    for (size_t pos = 0; pos <= list.size();) {
      size_t comma = list.find(',', pos);
      std::string ep = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      size_t colon = ep.rfind(':');
      if (colon == std::string::npos) {
        fprintf(stderr, "quorumd_bench --load: expected IP:PORT, got '%s'\n", ep.c_str());
        return 2;
      }
      eps.emplace_back(ep.substr(0, colon), std::atoi(ep.c_str() + colon + 1));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    int clients = argc > 3 ? std::atoi(argv[3]) : 16;
    int depth = argc > 4 ? std::atoi(argv[4]) : 1;
    double seconds = argc > 5 ? std::atof(argv[5]) : 5.0;
    if (clients < 1 || depth < 1 || seconds <= 0) {
      fprintf(stderr, "quorumd_bench --load: clients and depth must be at least 1, seconds above 0\n");
      return 2;
    }
    return RunLoad(eps, clients, depth, seconds);
  }
  if (argc >= 4 && std::string(argv[1]) == "--c-load") {
    // quorumd_bench --c-load IP:PORT SERVER_PID [CLIENTS [CALLS]]: the C-client closed loops
    // alone against a server already running: CLIENTS sessions create CALLS znodes each under
    // a fresh parent, then set them all.
    std::string hosts = argv[2];
    pid_t pid = static_cast<pid_t>(std::atoi(argv[3]));
    int clients = argc > 4 ? std::atoi(argv[4]) : 16;
    int calls = argc > 5 ? std::atoi(argv[5]) : 500;
    size_t colon = hosts.rfind(':');
    if (colon == std::string::npos || pid <= 0 || clients < 1 || calls < 1) {
      fprintf(stderr, "usage: quorumd_bench --c-load IP:PORT SERVER_PID [CLIENTS [CALLS]]\n");
      return 2;
    }
    int port = std::atoi(hosts.c_str() + colon + 1);
    std::string dir = "/cl" + std::to_string(getpid());
    zhandle_t* setup = Connect(hosts);
    zoo_create(setup, dir.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    zookeeper_close(setup);
    std::string value(100, 'v');
    const char* names[] = {"create", "setData"};
    IssueFn fns[] = {IssueCreate, IssueSet};
    for (int k = 0; k < 2; ++k) {
      Result r = Run(hosts, port, pid, clients, calls, fns[k], dir.c_str(), 0, value);
      printf("%-8s %9.1f ops/s  p50 %.2f ms  p99 %.2f ms  server CPU/1k %.1f ms  client CPU/1k %.1f ms  "
             "calls/fsync %.2f  machine busy %.0f%%  errors %ld\n",
             names[k], r.ops_per_s, r.p50_ms, r.p99_ms, r.server_cpu_ms_per_kop, r.client_cpu_ms_per_kop,
             r.calls_per_fsync, r.machine_busy_pct, r.errors);
    }
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: quorumd_bench QUORUMD_BINARY REFZK_SCRIPT [--quick] [--memory]\n");
    return 2;
  }
  bool quick = false, memory_only = false;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--memory") {
      memory_only = true;
    } else {
      fprintf(stderr, "quorumd_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  int single = quick ? 300 : 2000;
  int multi = quick ? 100 : 500;
  int reads = quick ? 1000 : 5000;
  int big = quick ? 10000 : 100000;
  signal(SIGPIPE, SIG_IGN);

  Server zk("zookeeper", true, argv[1], argv[2], PickPort(0));
  Server ours("quorumd", false, argv[1], argv[2], PickPort(1));
  std::vector<Row> rows;
  Server* both[2] = {&zk, &ours};
  double idle[2] = {0, 0}, full[2] = {0, 0}, startup[2] = {0, 0};
  Result res[2][10];  // 0-4 through the C client, 5-9 on the wire
  std::string value(100, 'x');
  for (Server* srv : both) {
    if (srv->Start() < 0) {
      fprintf(stderr, "%s did not start\n", srv->name().c_str());
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (int s = 0; s < 2; ++s) idle[s] = static_cast<double>(both[s]->Rss()) / 1024.0;
  for (Server* srv : both) {
    zhandle_t* setup = Connect(srv->hosts());
    zoo_create(setup, "/b1", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    zoo_create(setup, "/b16", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    zoo_create(setup, "/w1", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    zoo_create(setup, "/w16", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    zookeeper_close(setup);
  }
  // The machine is shared and its disk noisy: every workload runs twice on each server,
  // interleaved (zookeeper, quorumd, quorumd, zookeeper), and the two runs are averaged.
  auto merge = [](Result& into, const Result& r) {
    into.ops_per_s += r.ops_per_s / 2;
    into.p50_ms += r.p50_ms / 2;
    into.p99_ms += r.p99_ms / 2;
    into.server_cpu_ms_per_kop += r.server_cpu_ms_per_kop / 2;
    into.client_cpu_ms_per_kop += r.client_cpu_ms_per_kop / 2;
    into.machine_busy_pct += r.machine_busy_pct / 2;
    into.calls_per_fsync += r.calls_per_fsync / 2;
    into.fsync_ms += r.fsync_ms / 2;
    into.errors += r.errors;
  };
  double floor_ops = 0;
  for (int round = 0; round < (memory_only ? 0 : 2); ++round) {
    floor_ops += DiskFloor(zk.dir(), single) / 2;
    for (int k = 0; k < 2; ++k) {
      int s = round == 0 ? k : 1 - k;
      Server& srv = *both[s];
      fprintf(stderr, "== %s, round %d\n", srv.name().c_str(), round + 1);
      merge(res[s][0], Run(srv.hosts(), srv.port(), srv.pid(), 1, single, IssueCreate, "/b1", round, value));
      merge(res[s][1], Run(srv.hosts(), srv.port(), srv.pid(), 16, multi, IssueCreate, "/b16", round, value));
      merge(res[s][2], Run(srv.hosts(), srv.port(), srv.pid(), 1, single, IssueSet, "/b1", round, value));
      merge(res[s][3], Run(srv.hosts(), srv.port(), srv.pid(), 16, multi, IssueSet, "/b16", round, value));
      merge(res[s][4], Run(srv.hosts(), srv.port(), srv.pid(), 16, reads, IssueGet, "/b16", 0, value, multi));
      // The same calls from the wire clients, twice as many per session (they are quicker).
      merge(res[s][5], RunWire(srv.port(), srv.pid(), 1, 2 * single, WireOp::kCreate, "/w1", round, value));
      merge(res[s][6], RunWire(srv.port(), srv.pid(), 16, 2 * multi, WireOp::kCreate, "/w16", round, value));
      merge(res[s][7], RunWire(srv.port(), srv.pid(), 1, 2 * single, WireOp::kSetData, "/w1", round, value));
      merge(res[s][8], RunWire(srv.port(), srv.pid(), 16, 2 * multi, WireOp::kSetData, "/w16", round, value));
      merge(res[s][9], RunWire(srv.port(), srv.pid(), 16, 2 * reads, WireOp::kGetData, "/w16", 0, value, 2 * multi));
    }
  }
  if (memory_only) {
    // The same znodes the throughput workloads leave behind, so the tree measured is the same.
    std::vector<std::string> left;
    char path[64];
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < single; ++i) {
        snprintf(path, sizeof path, "/b1/c%02d-%d-%06d", 0, round, i);
        left.push_back(path);
      }
      for (int c = 0; c < 16; ++c) {
        for (int i = 0; i < multi; ++i) {
          snprintf(path, sizeof path, "/b16/c%02d-%d-%06d", c, round, i);
          left.push_back(path);
        }
      }
      for (int i = 0; i < 2 * single; ++i) {
        snprintf(path, sizeof path, "/w1/c%02d-%d-%06d", 0, round, i);
        left.push_back(path);
      }
      for (int c = 0; c < 16; ++c) {
        for (int i = 0; i < 2 * multi; ++i) {
          snprintf(path, sizeof path, "/w16/c%02d-%d-%06d", c, round, i);
          left.push_back(path);
        }
      }
    }
    for (Server* srv : both) CreateAll(srv->hosts(), nullptr, left, value);
  }
  for (int s = 0; s < 2; ++s) {
    Server& srv = *both[s];
    fprintf(stderr, "== %s: populating %d znodes, restarting\n", srv.name().c_str(), big);
    Populate(srv.hosts(), big);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    full[s] = static_cast<double>(srv.Rss()) / 1024.0;
    srv.Stop(SIGTERM);
    startup[s] = srv.Start();
    zhandle_t* check = Connect(srv.hosts());
    char buf[256];
    int len = sizeof buf;
    char last[64];
    snprintf(last, sizeof last, "/big/n%07d", big - 1);
    if (zoo_get(check, last, 0, buf, &len, nullptr) != ZOK) fprintf(stderr, "%s lost %s\n", srv.name().c_str(), last);
    zookeeper_close(check);
    for (const auto& r : res[s]) {
      if (r.errors) fprintf(stderr, "%s: %ld failed calls\n", srv.name().c_str(), r.errors);
    }
  }
  const char* names[10] = {"create, 1 client", "create, 16 clients", "setData, 1 client", "setData, 16 clients",
                           "getData, 16 clients", "wire: create, 1 client", "wire: create, 16 clients",
                           "wire: setData, 1 client", "wire: setData, 16 clients", "wire: getData, 16 clients"};
  for (int i = 0; i < (memory_only ? 0 : 10); ++i) {
    rows.push_back({std::string(names[i]) + " (ops/s)", "ops/s", res[0][i].ops_per_s, res[1][i].ops_per_s, true});
    if (i % 5 < 4) {
      rows.push_back({std::string(names[i]) + " p50 (ms)", "ms", res[0][i].p50_ms, res[1][i].p50_ms, false});
      rows.push_back({std::string(names[i]) + " p99 (ms)", "ms", res[0][i].p99_ms, res[1][i].p99_ms, false});
    }
    rows.push_back({std::string(names[i]) + " server CPU/1k (ms)", "ms", res[0][i].server_cpu_ms_per_kop,
                    res[1][i].server_cpu_ms_per_kop, false});
    rows.push_back({std::string(names[i]) + " client CPU/1k (ms)", "ms", res[0][i].client_cpu_ms_per_kop,
                    res[1][i].client_cpu_ms_per_kop, false});
    rows.push_back({std::string(names[i]) + " machine busy (%)", "%", res[0][i].machine_busy_pct,
                    res[1][i].machine_busy_pct, false, false});
    if (i % 5 < 4) {
      rows.push_back({std::string(names[i]) + " calls per fsync", "", res[0][i].calls_per_fsync,
                      res[1][i].calls_per_fsync, true, false});
      // ZooKeeper adds each fsync's time to its sum in whole milliseconds, so its average
      // of sub-millisecond fsyncs reads as about 0: left out.
      rows.push_back({std::string(names[i]) + " fsync avg (ms)", "ms", res[0][i].fsync_ms, res[1][i].fsync_ms, false,
                      false, false});
    }
  }
  rows.push_back({"RSS idle (MiB)", "MiB", idle[0], idle[1], false});
  rows.push_back({"RSS with " + std::to_string(big) + " znodes (MiB)", "MiB", full[0], full[1], false});
  rows.push_back({"start-up with " + std::to_string(big) + " znodes (ms)", "ms", startup[0], startup[1], false});
  printf("%-36s %14s %14s %10s\n", "measure", "zookeeper", "quorumd", "ratio");
  for (const auto& r : rows) {
    double ratio = r.higher_is_better ? r.ours / std::max(r.zk, 1e-9) : r.zk / std::max(r.ours, 1e-9);
    char zk[32], ratio_text[32];
    if (r.zk_known) {
      snprintf(zk, sizeof zk, "%14.2f", r.zk);
    } else {
      snprintf(zk, sizeof zk, "%14s", "-");
    }
    if (r.compared && r.zk_known) {
      snprintf(ratio_text, sizeof ratio_text, "%9.2fx", ratio);
    } else {
      ratio_text[0] = '\0';
    }
    printf("%-36s %s %14.2f %s\n", r.what.c_str(), zk, r.ours, ratio_text);
  }
  printf("ratio: how many times better quorumd is (throughput: quorumd/zookeeper; latency, memory, time: "
         "zookeeper/quorumd); none for figures that describe the run (machine busy, calls per fsync)\n");
  printf("machine busy: the share of all %ld cores in use during the workload, by the server, the clients and the "
         "kernel's interrupt work alike\n",
         sysconf(_SC_NPROCESSORS_ONLN));
  if (!memory_only) {
    // Through the C client with 16 sessions both servers share the cores with their clients.
    // What the clients alone need per call bounds the row, however little the server takes.
    for (int i : {1, 3}) {
      const Result& r = res[1][i];
      // Per call, in microseconds (ms per 1,000 calls is us per call).
      double cores = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
      double all_us = r.ops_per_s > 0 ? r.machine_busy_pct / 100.0 * cores * 1e6 / r.ops_per_s : 0;
      double other = std::max(0.0, all_us - r.server_cpu_ms_per_kop - r.client_cpu_ms_per_kop);
      double ceiling = 1e6 * cores / std::max(1e-9, r.client_cpu_ms_per_kop + other);
      printf("%s through the C client: per call, quorumd took %.0f us of CPU, its clients %.0f us, the rest of "
             "the machine %.0f us; with a server that took none, the cores could carry at most %.0f calls/s, "
             "%.2fx ZooKeeper's %.0f\n",
             names[i], r.server_cpu_ms_per_kop, r.client_cpu_ms_per_kop, other, ceiling,
             ceiling / std::max(res[0][i].ops_per_s, 1e-9), res[0][i].ops_per_s);
    }
  }
  if (floor_ops > 0) {
    printf("disk floor: one writer's pwrite+fdatasync of 120 bytes, one after the other, in the same file system: "
           "%.0f/s (%.3f ms each); a 1-client write here cannot pass %.2fx ZooKeeper's wire setData, 1 client\n",
           floor_ops, 1000.0 / floor_ops, floor_ops / std::max(res[0][7].ops_per_s, 1e-9));
  }
  return 0;
}

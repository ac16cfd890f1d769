// A Kafka (ZooKeeper mode) stand-in: brokers register under /brokers/ids, one of them wins
// /controller and bumps /controller_epoch, the controller creates topics and keeps every
// partition's leader and ISR in its state znode, moving leadership to a live ISR member
// when a broker goes. Leaders take produce requests and acknowledge them once every ISR
// member has fetched the message (acks=all); followers fetch from their leader; a
// follower that has caught up is added back to the ISR by the leader.
//
// Broker HTTP endpoints (the broker's port):
//   GET  /metadata?topic=T                   brokers and partition leaders, read from ZooKeeper
//   POST /produce?topic=T&partition=P        body = one message; {"offset":n} once committed
//   GET  /fetch?topic=T&partition=P&offset=O&replica=ID   (followers)
//   GET  /consume?topic=T&partition=P&offset=O            committed messages from O
//   GET  /status
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <set>
#include <sstream>

#include "checks/kafka_znodes.h"
#include "services/common.h"
#include "services/services.h"

namespace faultline::svc {
namespace {

constexpr const char* kServer = "kafka.server.KafkaServer";
constexpr const char* kCtl = "kafka.controller.KafkaController";
constexpr const char* kPart = "kafka.cluster.Partition";
constexpr const char* kZkClient = "kafka.zookeeper.ZooKeeperClient";

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int rf = 3;
};

std::string SetText(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out;
}

struct PartitionLog {
  std::vector<std::string> messages;
  long long hw = 0;
  std::map<int, long long> follower_leo;  // as leader
};

class Broker {
 public:
  Broker(const Flags& f)
      : id_(f.GetInt("id", -1)),
        host_(f.Require("host")),
        port_(f.GetInt("port", 0)),
        connect_(f.Require("zk")),
        data_dir_(f.Require("data-dir")),
        session_ms_(f.GetInt("session-timeout", 6000)),
        prefix_("[Controller id=" + std::to_string(id_) + "] ") {
    std::istringstream in(f.Get("topics", ""));
    std::string item;
    while (std::getline(in, item, ',')) {
      TopicSpec t;
      std::istringstream parts(item);
      std::string a, b, c;
      std::getline(parts, a, ':');
      std::getline(parts, b, ':');
      std::getline(parts, c, ':');
      t.name = a;
      if (!b.empty()) t.partitions = std::atoi(b.c_str());
      if (!c.empty()) t.rf = std::atoi(c.c_str());
      if (!t.name.empty()) topics_.push_back(t);
    }
  }

  int Run(const std::string& bind) {
    ::mkdir(data_dir_.c_str(), 0755);
    LoadLogs();
    Status st = http_.Start(bind, port_, [this](const HttpRequest& r) { return Handle(r); });
    if (!st.ok()) {
      std::fprintf(stderr, "fl-svc kafka: %s\n", st.message().c_str());
      return 3;
    }
    NewSession();
    while (!g_stop) {
      SleepMs(100);
      if (session_->expired()) {
        Log::Get().Info(kZkClient, "[ZooKeeperClient Kafka server] Session expired.");
        if (controller_) Resign("session expired");
        registered_ = false;
        NewSession();
        continue;
      }
      if (!session_->connected()) continue;
      if (!registered_) Register();
      if (!registered_) continue;
      RefreshStates();
      if (!controller_) TryElect();
      if (controller_) ControllerTick();
      FollowerFetch();
    }
    Log::Get().Info(kServer, "[KafkaServer id=" + std::to_string(id_) + "] shut down completed");
    return 0;
  }

 private:
  void NewSession() {
    auto next = std::make_shared<Session>(connect_, session_ms_, kZkClient);
    {
      std::lock_guard<std::mutex> lock(session_mu_);
      session_ = next;
    }
    next->on_disconnected = [] { Log::Get().Info(kZkClient, "[ZooKeeperClient Kafka server] Connection loss; waiting until connected."); };
    next->on_connected = [] { Log::Get().Info(kZkClient, "[ZooKeeperClient Kafka server] Connected."); };
    Status st = next->Start(std::chrono::milliseconds(session_ms_));
    if (!st.ok()) Log::Get().Warn(kZkClient, st.message());
  }

  // The main loop's session. HTTP threads take their own reference (CurrentSession), since
  // the main loop replaces an expired session while requests may be in flight.
  ZkClient& zk() { return session_->zk(); }
  std::shared_ptr<Session> CurrentSession() {
    std::lock_guard<std::mutex> lock(session_mu_);
    return session_;
  }

  void Register() {
    zk().EnsurePath("/brokers/ids");
    zk().EnsurePath("/brokers/topics");
    KafkaBrokerInfo info{id_, host_, port_, NowMs()};
    Status why;
    ZkError e = zk().Create("/brokers/ids/" + std::to_string(id_), EncodeKafkaBroker(info), true, &why);
    if (e == ZkError::kOk) {
      registered_ = true;
      Log::Get().Info("kafka.zk.KafkaZkClient", "Registered broker " + std::to_string(id_) + " at path /brokers/ids/" +
                                                    std::to_string(id_) + " with addresses: PLAINTEXT://" + host_ + ":" +
                                                    std::to_string(port_) + ", czxid (broker epoch): 0");
      Log::Get().Info(kServer, "[KafkaServer id=" + std::to_string(id_) + "] started");
    } else if (!register_error_logged_) {
      register_error_logged_ = true;
      Log::Get().Error("kafka.zk.KafkaZkClient", "Error while creating ephemeral at /brokers/ids/" + std::to_string(id_) +
                                                     ", node already exists or cannot be created: " + why.message());
    }
  }

  // Partition leadership and ISR as ZooKeeper says now.
  void RefreshStates() {
    std::vector<std::string> topics;
    if (zk().Children("/brokers/topics", &topics) != ZkError::kOk) return;
    std::map<std::pair<std::string, int>, KafkaPartitionState> states;
    std::map<std::pair<std::string, int>, std::vector<int>> replicas;
    std::map<std::pair<std::string, int>, int> versions;
    // A read that fails half-way keeps the previous view: losing ZooKeeper must not make a
    // broker forget what it leads.
    for (const auto& t : topics) {
      std::string data;
      std::map<int, std::vector<int>> assignment;
      ZkError e = zk().Get("/brokers/topics/" + t, &data);
      if (e == ZkError::kNoNode) continue;
      if (e != ZkError::kOk) return;
      if (!DecodeKafkaTopic(data, &assignment)) continue;
      for (const auto& [p, r] : assignment) {
        ZkStat st;
        KafkaPartitionState s;
        replicas[{t, p}] = r;
        e = zk().Get(KafkaPartitionStatePath(t, p), &data, &st);
        if (e != ZkError::kOk && e != ZkError::kNoNode) return;
        if (e == ZkError::kOk && DecodeKafkaPartitionState(data, &s)) {
          states[{t, p}] = s;
          versions[{t, p}] = st.version;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, s] : states) {
      auto old = states_.find(key);
      bool was_leader = old != states_.end() && old->second.leader == id_;
      bool is_follower = s.leader != id_ &&
                         std::find(replicas[key].begin(), replicas[key].end(), id_) != replicas[key].end();
      if (s.leader == id_ && !was_leader) {
        Log::Get().Info(kPart, "[Partition " + key.first + "-" + std::to_string(key.second) + " broker=" +
                                   std::to_string(id_) + "] " + key.first + "-" + std::to_string(key.second) +
                                   " starts at leader epoch " + std::to_string(s.leader_epoch) + " from offset " +
                                   std::to_string(logs_[key].messages.size()) + ". Previous leader epoch was " +
                                   std::to_string(old == states_.end() ? -1 : old->second.leader_epoch) + ".");
        // Only what every ISR member had is known to be committed; the new leader's log is it.
        logs_[key].hw = static_cast<long long>(logs_[key].messages.size());
        logs_[key].follower_leo.clear();
      }
      if (is_follower && old != states_.end() && old->second.leader_epoch != s.leader_epoch) {
        // Pre-leader-epoch Kafka: a follower truncates to its high watermark on a leader change.
        auto& log = logs_[key];
        if (static_cast<long long>(log.messages.size()) > log.hw) {
          Log::Get().Info("kafka.log.Log", "[Log partition=" + key.first + "-" + std::to_string(key.second) +
                                               "] Truncating to offset " + std::to_string(log.hw));
          log.messages.resize(static_cast<size_t>(log.hw));
          SaveLog(key);
        }
      }
    }
    states_ = states;
    replicas_ = replicas;
    versions_ = versions;
  }

  void TryElect() {
    Status why;
    ZkError e = zk().Create("/controller", EncodeKafkaController(id_, NowMs()), true, &why);
    if (e != ZkError::kOk) return;
    // Bump the epoch with a conditional write so two controllers can never share one.
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::string data;
      ZkStat st;
      ZkError g = zk().Get("/controller_epoch", &data, &st);
      if (g == ZkError::kNoNode) {
        if (zk().Create("/controller_epoch", "1", false) == ZkError::kOk) {
          epoch_ = 1;
          epoch_version_ = 0;
          break;
        }
        continue;
      }
      if (g != ZkError::kOk) continue;
      int next = std::atoi(data.c_str()) + 1;
      if (zk().Set("/controller_epoch", std::to_string(next), st.version) == ZkError::kOk) {
        epoch_ = next;
        epoch_version_ = st.version + 1;
        break;
      }
    }
    if (epoch_ <= 0) {
      zk().Delete("/controller");
      return;
    }
    controller_ = true;
    Log::Get().Info(kCtl, prefix_ + std::to_string(id_) + " successfully elected as the controller. Epoch incremented to " +
                              std::to_string(epoch_) + " and epoch zk version is now " + std::to_string(epoch_version_));
    Log::Get().Info(kCtl, prefix_ + "Initializing controller context");
    known_live_.clear();
    std::vector<std::string> ids;
    zk().Children("/brokers/ids", &ids);
    std::vector<int> live;
    for (const auto& s : ids) live.push_back(std::atoi(s.c_str()));
    std::sort(live.begin(), live.end());
    Log::Get().Info(kCtl, prefix_ + "Currently active brokers in the cluster: Set(" + SetText(live) + ")");
    Log::Get().Info(kCtl, prefix_ + "Currently shutting brokers in the cluster: HashSet()");
    std::lock_guard<std::mutex> lock(mu_);
    Log::Get().Info(kCtl, prefix_ + "Current list of topics in the cluster: " + std::to_string(replicas_.size()) +
                              " partitions read back from ZooKeeper");
    known_live_ = std::set<int>(live.begin(), live.end());
  }

  void Resign(const std::string& why) {
    Log::Get().Info(kCtl, prefix_ + "Resigning (" + why + ")");
    controller_ = false;
    epoch_ = 0;
  }

  void ControllerTick() {
    ZkStat cst;
    ZkError ce = zk().Exists("/controller", &cst);
    if (ce == ZkError::kNoNode || (ce == ZkError::kOk && cst.ephemeral_owner != zk().session_id())) {
      Resign("no longer the owner of /controller");
      return;
    }
    if (ce != ZkError::kOk) return;  // connection loss: decide nothing until ZooKeeper answers
    std::vector<std::string> ids;
    if (zk().Children("/brokers/ids", &ids) != ZkError::kOk) return;
    std::set<int> live;
    for (const auto& s : ids) live.insert(std::atoi(s.c_str()));
    std::vector<int> added, removed;
    for (int b : live) if (!known_live_.count(b)) added.push_back(b);
    for (int b : known_live_) if (!live.count(b)) removed.push_back(b);
    if (!added.empty() || !removed.empty()) {
      Log::Get().Info(kCtl, prefix_ + "Newly added brokers: " + SetText(added) + ", deleted brokers: " + SetText(removed) +
                                ", all live brokers: " + SetText(std::vector<int>(live.begin(), live.end())));
      for (int b : removed) Log::Get().Info(kCtl, prefix_ + "Broker failure callback for " + std::to_string(b));
    }
    known_live_ = live;
    CreateTopics(live);
    std::map<std::pair<std::string, int>, KafkaPartitionState> states;
    std::map<std::pair<std::string, int>, std::vector<int>> replicas;
    std::map<std::pair<std::string, int>, int> versions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      states = states_;
      replicas = replicas_;
      versions = versions_;
    }
    for (const auto& [key, s] : states) {
      KafkaPartitionState next = s;
      std::vector<int> isr_live;
      for (int b : s.isr) if (live.count(b)) isr_live.push_back(b);
      if (s.leader >= 0 && live.count(s.leader)) {
        next.isr = isr_live;  // a dead follower leaves the ISR
      } else if (!isr_live.empty()) {
        // The new leader comes from the ISR, in replica order (no unclean election).
        int leader = isr_live.front();
        for (int r : replicas[key]) {
          if (std::find(isr_live.begin(), isr_live.end(), r) != isr_live.end()) {
            leader = r;
            break;
          }
        }
        next.leader = leader;
        next.isr = isr_live;
      } else if (s.leader != -1) {
        Log::Get().Error("kafka.controller.PartitionStateMachine",
                         prefix_ + "No broker in ISR is alive for " + key.first + "-" + std::to_string(key.second) +
                             ". Unclean leader election is disabled; the partition goes offline");
        next.leader = -1;  // the ISR keeps its last member, who may come back
      }
      if (next.leader == s.leader && next.isr == s.isr) continue;
      next.leader_epoch = s.leader_epoch + 1;
      next.controller_epoch = epoch_;
      if (zk().Set(KafkaPartitionStatePath(key.first, key.second), EncodeKafkaPartitionState(next), versions[key]) ==
          ZkError::kOk) {
        Log::Get().Info("kafka.controller.PartitionStateMachine",
                        prefix_ + "Changed partition " + key.first + "-" + std::to_string(key.second) +
                            " state from leader " + std::to_string(s.leader) + " to LeaderAndIsr(leader=" +
                            std::to_string(next.leader) + ", leaderEpoch=" + std::to_string(next.leader_epoch) +
                            ", isr=List(" + SetText(next.isr) + "), zkVersion=" + std::to_string(versions[key] + 1) + ")");
      }
    }
  }

  void CreateTopics(const std::set<int>& live) {
    for (const auto& t : topics_) {
      std::string path = "/brokers/topics/" + t.name;
      if (zk().Exists(path) != ZkError::kNoNode) continue;
      if (static_cast<int>(live.size()) < t.rf) continue;
      std::vector<int> ids(live.begin(), live.end());
      std::map<int, std::vector<int>> assignment;
      for (int p = 0; p < t.partitions; ++p) {
        for (int i = 0; i < t.rf; ++i) assignment[p].push_back(ids[(p + i) % ids.size()]);
      }
      if (zk().Create(path, EncodeKafkaTopic(assignment), false) != ZkError::kOk) continue;
      Log::Get().Info(kCtl, prefix_ + "New topics: [Set(" + t.name + ")], new partition replica assignment " +
                                EncodeKafkaTopic(assignment));
      for (const auto& [p, r] : assignment) {
        std::string state_path = KafkaPartitionStatePath(t.name, p);
        zk().EnsurePath(state_path.substr(0, state_path.rfind('/')));
        KafkaPartitionState s;
        s.controller_epoch = epoch_;
        s.leader = r.front();
        s.isr = r;
        zk().Create(state_path, EncodeKafkaPartitionState(s), false);
      }
    }
  }

  void FollowerFetch() {
    std::vector<std::pair<std::pair<std::string, int>, int>> work;  // partition, leader
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [key, s] : states_) {
        const auto& r = replicas_[key];
        if (s.leader >= 0 && s.leader != id_ && std::find(r.begin(), r.end(), id_) != r.end()) {
          work.push_back({key, s.leader});
        }
      }
    }
    for (const auto& [key, leader] : work) {
      std::string data;
      KafkaBrokerInfo b;
      if (zk().Get("/brokers/ids/" + std::to_string(leader), &data) != ZkError::kOk || !DecodeKafkaBroker(data, &b)) continue;
      long long offset;
      {
        std::lock_guard<std::mutex> lock(mu_);
        offset = static_cast<long long>(logs_[key].messages.size());
      }
      int status = 0;
      std::string out;
      std::string target = "/fetch?topic=" + UrlEncode(key.first) + "&partition=" + std::to_string(key.second) +
                           "&offset=" + std::to_string(offset) + "&replica=" + std::to_string(id_);
      if (!HttpCall(b.host, b.port, "GET", target, "", std::chrono::milliseconds(500), &status, &out).ok() || status != 200) {
        continue;
      }
      auto j = nlohmann::json::parse(out, nullptr, false);
      if (!j.is_object()) continue;
      std::lock_guard<std::mutex> lock(mu_);
      auto& log = logs_[key];
      long long leader_leo = j.value("leo", 0LL);
      if (static_cast<long long>(log.messages.size()) > leader_leo) {
        log.messages.resize(static_cast<size_t>(leader_leo));
      } else {
        for (const auto& m : j["messages"]) log.messages.push_back(m.get<std::string>());
      }
      log.hw = std::min<long long>(j.value("hw", 0LL), static_cast<long long>(log.messages.size()));
      SaveLog(key);
    }
  }

  HttpResponse Handle(const HttpRequest& r) {
    auto q = [&](const std::string& k) { return r.query.count(k) ? r.query.at(k) : std::string(); };
    std::pair<std::string, int> key{q("topic"), std::atoi(q("partition").c_str())};
    if (r.path == "/status") {
      std::lock_guard<std::mutex> lock(mu_);
      nlohmann::json parts = nlohmann::json::object();
      for (const auto& [k, s] : states_) {
        parts[k.first + "-" + std::to_string(k.second)] = {
            {"leader", s.leader}, {"isr", s.isr}, {"leo", logs_[k].messages.size()}, {"hw", logs_[k].hw}};
      }
      return HttpResponse::Json({{"brokerId", id_}, {"controller", controller_.load()}, {"partitions", parts}});
    }
    if (r.path == "/metadata") {
      auto session = CurrentSession();
      if (!session || !session->connected()) return HttpResponse::Json({{"error", "not connected to ZooKeeper"}}, 503);
      ZkClient& zk = session->zk();
      nlohmann::json brokers = nlohmann::json::object(), parts = nlohmann::json::object();
      std::vector<std::string> ids;
      zk.Children("/brokers/ids", &ids);
      for (const auto& s : ids) {
        std::string data;
        KafkaBrokerInfo b;
        if (zk.Get("/brokers/ids/" + s, &data) == ZkError::kOk && DecodeKafkaBroker(data, &b)) {
          brokers[s] = b.host + ":" + std::to_string(b.port);
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [k, s] : states_) {
        if (k.first == key.first) parts[std::to_string(k.second)] = {{"leader", s.leader}, {"isr", s.isr}};
      }
      return HttpResponse::Json({{"brokers", brokers}, {"partitions", parts}});
    }
    auto not_leader = [&] {
      return HttpResponse::Json({{"error", "NOT_LEADER_OR_FOLLOWER"},
                                 {"message", "Broker " + std::to_string(id_) + " is not the leader of " + key.first + "-" +
                                                 std::to_string(key.second)}},
                                409);
    };
    if (r.path == "/produce" && r.method == "POST") {
      std::unique_lock<std::mutex> lock(mu_);
      auto it = states_.find(key);
      if (it == states_.end() || it->second.leader != id_) return not_leader();
      auto& log = logs_[key];
      log.messages.push_back(r.body);
      long long offset = static_cast<long long>(log.messages.size()) - 1;
      SaveLog(key);
      // acks=all: committed when every ISR member has it. The ISR is re-read each round, so a
      // follower the controller removes stops holding the produce back.
      for (int round = 0; round < 60; ++round) {
        it = states_.find(key);
        if (it == states_.end() || it->second.leader != id_) return not_leader();
        bool all = true;
        for (int b : it->second.isr) {
          if (b != id_ && logs_[key].follower_leo[b] <= offset) all = false;
        }
        if (all) {
          logs_[key].hw = std::max(logs_[key].hw, offset + 1);
          return HttpResponse::Json({{"offset", offset}});
        }
        lock.unlock();
        SleepMs(50);
        lock.lock();
      }
      return HttpResponse::Json({{"error", "NOT_ENOUGH_REPLICAS_AFTER_APPEND"}}, 503);
    }
    if (r.path == "/fetch" || r.path == "/consume") {
      long long offset = std::atoll(q("offset").c_str());
      int replica = q("replica").empty() ? -1 : std::atoi(q("replica").c_str());
      std::unique_lock<std::mutex> lock(mu_);
      auto it = states_.find(key);
      if (it == states_.end() || it->second.leader != id_) return not_leader();
      auto& log = logs_[key];
      long long leo = static_cast<long long>(log.messages.size());
      bool expand = false;
      if (replica >= 0) {
        log.follower_leo[replica] = std::min(offset, leo);
        const auto& isr = it->second.isr;
        expand = offset >= leo && std::find(isr.begin(), isr.end(), replica) == isr.end();
        // Messages every ISR member holds are committed.
        long long hw = leo;
        for (int b : isr) if (b != id_) hw = std::min(hw, log.follower_leo[b]);
        log.hw = std::max(log.hw, hw);
      }
      long long end = r.path == "/fetch" ? leo : log.hw;
      nlohmann::json msgs = nlohmann::json::array();
      for (long long i = std::max(0LL, offset); i < end; ++i) msgs.push_back(log.messages[static_cast<size_t>(i)]);
      nlohmann::json out = {{"messages", msgs}, {"leo", leo}, {"hw", log.hw}, {"offset", offset}};
      KafkaPartitionState s = it->second;
      int version = versions_[key];
      lock.unlock();
      if (expand) Expand(key, s, version, replica);
      return HttpResponse::Json(out);
    }
    return HttpResponse::Json({{"error", "no such resource"}}, 404);
  }

  // The leader adds a caught-up follower back to the ISR, with a conditional write.
  void Expand(const std::pair<std::string, int>& key, KafkaPartitionState s, int version, int replica) {
    std::vector<int> before = s.isr;
    s.isr.push_back(replica);
    std::sort(s.isr.begin(), s.isr.end());
    auto session = CurrentSession();
    if (session && session->zk().Set(KafkaPartitionStatePath(key.first, key.second), EncodeKafkaPartitionState(s),
                                     version) == ZkError::kOk) {
      Log::Get().Info(kPart, "[Partition " + key.first + "-" + std::to_string(key.second) + " broker=" +
                                 std::to_string(id_) + "] Expanding ISR from " + SetText(before) + " to " + SetText(s.isr));
      std::lock_guard<std::mutex> lock(mu_);
      states_[key] = s;
      versions_[key] = version + 1;
    }
  }

  std::string LogPath(const std::pair<std::string, int>& key) {
    return data_dir_ + "/" + key.first + "-" + std::to_string(key.second) + ".log";
  }

  // REQUIRES: mu_ held.
  void SaveLog(const std::pair<std::string, int>& key) {
    nlohmann::json j = logs_[key].messages;
    WriteFileDurable(LogPath(key), j.dump());
  }

  void LoadLogs() {
    for (const auto& t : topics_) {
      for (int p = 0; p < t.partitions; ++p) {
        std::string text;
        if (!ReadFile(LogPath({t.name, p}), &text)) continue;
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_array()) logs_[{t.name, p}].messages = j.get<std::vector<std::string>>();
      }
    }
  }

  int id_;
  std::string host_;
  int port_;
  std::string connect_, data_dir_;
  int session_ms_;
  std::string prefix_;
  std::vector<TopicSpec> topics_;
  std::mutex session_mu_;
  std::shared_ptr<Session> session_;  // replaced only by the main loop, under session_mu_
  HttpServer http_;
  bool registered_ = false;
  bool register_error_logged_ = false;
  std::atomic<bool> controller_{false};
  int epoch_ = 0;
  int epoch_version_ = 0;
  std::set<int> known_live_;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, KafkaPartitionState> states_;  // GUARDED_BY(mu_)
  std::map<std::pair<std::string, int>, std::vector<int>> replicas_;   // GUARDED_BY(mu_)
  std::map<std::pair<std::string, int>, int> versions_;                // GUARDED_BY(mu_)
  std::map<std::pair<std::string, int>, PartitionLog> logs_;           // GUARDED_BY(mu_)
};

}  // namespace

int RunKafkaBroker(const Flags& f) {
  if (f.GetInt("id", -1) < 0) {
    std::fprintf(stderr, "fl-svc kafka: --id (a non-negative broker id) is required\n");
    return 2;
  }
  Log::Get().Open(f.Get("log"));
  WritePidFile(f.Get("pidfile"));
  InstallStopHandlers();
  Broker broker(f);
  return broker.Run(f.Get("bind", "127.0.0.1"));
}

// One attempt: metadata from a bootstrap broker, then produce to and consume from the
// leader. Returns 0 on success, 1 on a definite failure, -1 when a retry may help.
int KafkaRoundTrip(const Flags& f, const std::string& token, std::string* error) {
  std::string topic = f.Get("topic", "faultline-rw");
  std::string partition = f.Get("partition", "0");
  for (const auto& boot : f.All("bootstrap")) {
    std::string h;
    int p, status = 0;
    std::string out;
    if (!SplitHostPort(boot, &h, &p)) continue;
    Status st = HttpCall(h, p, "GET", "/metadata?topic=" + UrlEncode(topic), "", std::chrono::milliseconds(1000), &status, &out);
    auto meta = nlohmann::json::parse(out, nullptr, false);
    if (!st.ok() || status != 200 || !meta.is_object()) {
      *error = boot + ": " + (st.ok() ? out : st.message());
      continue;
    }
    if (!meta["partitions"].contains(partition)) {
      *error = topic + "-" + partition + " has no state yet";
      return -1;
    }
    int leader = meta["partitions"][partition].value("leader", -1);
    std::string lid = std::to_string(leader);
    if (leader < 0 || !meta["brokers"].contains(lid)) {
      *error = topic + "-" + partition + " is offline (leader " + lid + ")";
      return -1;
    }
    std::string lh;
    int lp;
    SplitHostPort(meta["brokers"][lid].get<std::string>(), &lh, &lp);
    std::string q = "?topic=" + UrlEncode(topic) + "&partition=" + partition;
    st = HttpCall(lh, lp, "POST", "/produce" + q, token, std::chrono::milliseconds(4000), &status, &out);
    auto ack = nlohmann::json::parse(out, nullptr, false);
    if (!st.ok() || status != 200 || !ack.is_object() || !ack.contains("offset")) {
      *error = "produce to broker " + lid + " failed: " + (st.ok() ? out : st.message());
      return -1;  // NOT_LEADER_OR_FOLLOWER while metadata catches up: retry, as producers do
    }
    long long offset = ack["offset"].get<long long>();
    st = HttpCall(lh, lp, "GET", "/consume" + q + "&offset=" + std::to_string(offset), "", std::chrono::milliseconds(2000),
                  &status, &out);
    auto got = nlohmann::json::parse(out, nullptr, false);
    if (!st.ok() || status != 200 || !got.is_object() || got["messages"].empty()) {
      *error = "consume from broker " + lid + " failed: " + (st.ok() ? out : st.message());
      return -1;
    }
    std::string first = got["messages"][0].get<std::string>();
    std::printf("%s\n", first.c_str());
    if (first != token) {
      *error = "read back '" + first + "' instead of the token";
      return 1;
    }
    return 0;
  }
  return -1;
}

int RunKafkaClient(const Flags& f) {
  if (f.positional().empty()) {
    std::fprintf(stderr, "Usage: fl-svc client kafka --bootstrap HOST:P... [--topic T] [--partition P] [--retry-ms MS] TOKEN\n");
    return 2;
  }
  std::string token = f.positional().back();
  long long deadline = NowMs() + f.GetInt("retry-ms", 1500);
  std::string error = "no bootstrap broker given";
  for (;;) {
    int rc = KafkaRoundTrip(f, token, &error);
    if (rc >= 0) {
      if (rc) std::fprintf(stderr, "kafka: %s\n", error.c_str());
      return rc;
    }
    if (NowMs() + 100 >= deadline) break;
    SleepMs(100);
  }
  std::fprintf(stderr, "kafka: %s\n", error.c_str());
  return 1;
}

}  // namespace faultline::svc

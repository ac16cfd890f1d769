// Kafka (ZooKeeper mode) role probes, from /controller, /controller_epoch, /brokers.
#include <algorithm>

#include "checks/kafka_znodes.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;

std::string HostOfBroker(const Inventory& inventory, int id) {
  std::string h = HostByVar(inventory, "kafka_broker_id", std::to_string(id));
  return h.empty() ? std::to_string(id) : h;
}

struct KafkaView {
  ZkClient* zk = nullptr;
  std::string topic;  // "" = every topic
  int partition = 0;
};

using KafkaFn = std::function<Observation(ProbeContext&, const KafkaView&)>;

std::string Where(const ProbeSpec& spec) {
  std::string m = spec.mark.ToString();
  return (m.empty() ? "" : m + ": ") + "probe " + spec.name;
}

void RegisterKafka(const std::string& name, const std::string& summary, bool yields_hosts,
                   bool topic_param, bool topic_required, KafkaFn fn) {
  ProbeInfo info;
  info.name = name;
  info.summary = summary;
  info.yields_hosts = yields_hosts;
  info.params = {{"group", false, "the ZooKeeper servers' group", "group"}};
  std::set<std::string> allowed = {"group"}, required;
  if (topic_param) {
    info.params.push_back({"topic", topic_required, "the topic", ""});
    allowed.insert("topic");
    if (topic_required) {
      info.params.push_back({"partition", false, "the partition number (default 0)", ""});
      allowed.insert("partition");
      required.insert("topic");
    }
  }
  ProbeRegistry::Global().Register(info, [=](const ProbeSpec& spec, const Inventory& inventory,
                                             std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, allowed, required));
    KafkaView base;
    base.topic = ParamString(spec, "topic");
    std::string p = ParamString(spec, "partition", "0");
    char* end = nullptr;
    long pn = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || pn < 0) {
      return Status::Invalid(Where(spec) + ": partition must be a non-negative integer, got '" + p + "'");
    }
    base.partition = static_cast<int>(pn);
    std::vector<ZkServer> servers;
    FAULTLINE_RETURN_IF_ERROR(ZkServersOf(inventory, ZkGroupFor(spec, inventory), &servers));
    auto session = std::make_shared<ZnodeSession>(ZkConnectString(inventory, servers));
    *out = std::make_unique<FnProbe>([=](ProbeContext& ctx, milliseconds timeout) {
      Status why;
      KafkaView v = base;
      v.zk = session->Reader(timeout, &why);
      if (!v.zk) return Observation::Unreachable(why.message());
      return fn(ctx, v);
    });
    return Status::Ok();
  });
}

bool LiveBrokers(const KafkaView& v, std::vector<int>* ids, Status* why) {
  std::vector<std::string> children;
  ZkError e = v.zk->Children("/brokers/ids", &children, why);
  ids->clear();
  if (e == ZkError::kNoNode) return true;
  if (e != ZkError::kOk) return false;
  for (const auto& c : children) ids->push_back(std::atoi(c.c_str()));
  std::sort(ids->begin(), ids->end());
  return true;
}

// Every partition of the view's topic (or of all topics): replicas and state.
struct PartitionInfo {
  std::string topic;
  int partition = 0;
  std::vector<int> replicas;
  KafkaPartitionState state;
  bool has_state = false;
};

bool AllPartitions(const KafkaView& v, std::vector<PartitionInfo>* out, Status* why) {
  std::vector<std::string> topics;
  if (!v.topic.empty()) {
    topics.push_back(v.topic);
  } else {
    ZkError e = v.zk->Children("/brokers/topics", &topics, why);
    if (e == ZkError::kNoNode) return true;
    if (e != ZkError::kOk) return false;
  }
  for (const auto& t : topics) {
    std::string data;
    ZkError e = v.zk->Get("/brokers/topics/" + t, &data, nullptr, why);
    if (e == ZkError::kNoNode) continue;
    if (e != ZkError::kOk) return false;
    std::map<int, std::vector<int>> assignment;
    if (!DecodeKafkaTopic(data, &assignment)) {
      *why = Status::Unavailable("/brokers/topics/" + t + ": not a topic assignment record");
      return false;
    }
    for (const auto& [p, replicas] : assignment) {
      PartitionInfo info;
      info.topic = t;
      info.partition = p;
      info.replicas = replicas;
      e = v.zk->Get(KafkaPartitionStatePath(t, p), &data, nullptr, why);
      if (e == ZkError::kOk) {
        info.has_state = DecodeKafkaPartitionState(data, &info.state);
      } else if (e != ZkError::kNoNode) {
        return false;
      }
      out->push_back(info);
    }
  }
  return true;
}

bool OneState(const KafkaView& v, KafkaPartitionState* s, bool* exists, Status* why) {
  std::string data;
  std::string path = KafkaPartitionStatePath(v.topic, v.partition);
  ZkError e = v.zk->Get(path, &data, nullptr, why);
  *exists = e == ZkError::kOk;
  if (e == ZkError::kNoNode) return true;
  if (e != ZkError::kOk) return false;
  if (!DecodeKafkaPartitionState(data, s)) {
    *why = Status::Unavailable(path + ": not a partition state record");
    return false;
  }
  return true;
}

}  // namespace

void RegisterKafkaProbes() {
  RegisterKafka("kafka.controller", "the controller broker's host, from /controller; null when none", true, false,
                false, [](ProbeContext& ctx, const KafkaView& v) {
                  std::string data;
                  Status why;
                  ZkError e = v.zk->Get("/controller", &data, nullptr, &why);
                  if (e == ZkError::kNoNode) return Observation::Value(nullptr);
                  if (e != ZkError::kOk) return Observation::Unreachable(why.message());
                  int id = DecodeKafkaController(data);
                  if (id < 0) return Observation::Unreachable("/controller: no brokerid in " + data);
                  std::string h = HostOfBroker(ctx.inventory(), id);
                  Observation o = Observation::Value(h);
                  o.roles[h] = "controller";
                  return o;
                });
  RegisterKafka("kafka.controller_epoch", "the number in /controller_epoch; null before any election", false,
                false, false, [](ProbeContext&, const KafkaView& v) {
                  std::string data;
                  Status why;
                  ZkError e = v.zk->Get("/controller_epoch", &data, nullptr, &why);
                  if (e == ZkError::kNoNode) return Observation::Value(nullptr);
                  if (e != ZkError::kOk) return Observation::Unreachable(why.message());
                  return Observation::Value(std::atoll(data.c_str()));
                });
  RegisterKafka("kafka.live_brokers", "hosts of the brokers registered under /brokers/ids", true, false, false,
                [](ProbeContext& ctx, const KafkaView& v) {
                  std::vector<int> ids;
                  Status why;
                  if (!LiveBrokers(v, &ids, &why)) return Observation::Unreachable(why.message());
                  std::vector<std::string> hosts;
                  Observation o;
                  for (int id : ids) {
                    hosts.push_back(HostOfBroker(ctx.inventory(), id));
                    o.roles[hosts.back()] = "broker";
                  }
                  o.value = hosts;
                  return o;
                });
  RegisterKafka("kafka.partition_leader", "the host leading a partition; null when it is offline", true, true,
                true, [](ProbeContext& ctx, const KafkaView& v) {
                  KafkaPartitionState s;
                  bool exists;
                  Status why;
                  if (!OneState(v, &s, &exists, &why)) return Observation::Unreachable(why.message());
                  if (!exists || s.leader < 0) return Observation::Value(nullptr);
                  std::string h = HostOfBroker(ctx.inventory(), s.leader);
                  Observation o = Observation::Value(h);
                  o.roles[h] = "leader";
                  return o;
                });
  RegisterKafka("kafka.isr", "the hosts in a partition's in-sync replica set", true, true, true,
                [](ProbeContext& ctx, const KafkaView& v) {
                  KafkaPartitionState s;
                  bool exists;
                  Status why;
                  if (!OneState(v, &s, &exists, &why)) return Observation::Unreachable(why.message());
                  if (!exists) return Observation::Value(nullptr);
                  std::vector<std::string> hosts;
                  for (int id : s.isr) hosts.push_back(HostOfBroker(ctx.inventory(), id));
                  return Observation::Value(hosts);
                });
  RegisterKafka("kafka.under_replicated", "partitions whose ISR is smaller than their replica set", false, true,
                false, [](ProbeContext&, const KafkaView& v) {
                  std::vector<PartitionInfo> parts;
                  Status why;
                  if (!AllPartitions(v, &parts, &why)) return Observation::Unreachable(why.message());
                  int n = 0;
                  for (const auto& p : parts) n += !p.has_state || p.state.isr.size() < p.replicas.size();
                  return Observation::Value(n);
                });
  RegisterKafka("kafka.offline_partitions", "partitions without a live leader", false, true, false,
                [](ProbeContext&, const KafkaView& v) {
                  std::vector<PartitionInfo> parts;
                  std::vector<int> live;
                  Status why;
                  if (!AllPartitions(v, &parts, &why) || !LiveBrokers(v, &live, &why)) {
                    return Observation::Unreachable(why.message());
                  }
                  int n = 0;
                  for (const auto& p : parts) {
                    bool leader_live = p.has_state && p.state.leader >= 0 &&
                                       std::find(live.begin(), live.end(), p.state.leader) != live.end();
                    n += !leader_live;
                  }
                  return Observation::Value(n);
                });
}

}  // namespace faultline

// Kafka (ZooKeeper mode) role probes, from /controller, /controller_epoch, /brokers, read under
// the chroot of Kafka's own zookeeper.connect (inventory variable kafka_zookeeper_connect).
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
  std::string chroot;  // "" = the ensemble's root
  std::string topic;  // "" = every topic
  int partition = 0;
};

using KafkaFn = std::function<Observation(ProbeContext&, const KafkaView&)>;

std::string Where(const ProbeSpec& spec) {
  std::string m = spec.mark.ToString();
  return (m.empty() ? "" : m + ": ") + "probe " + spec.name;
}

// kafka_zookeeper_connect from `all`, else the first host that sets it: the ensemble and the
// chroot Kafka reads. Absent: the ZooKeeper servers' connect string, no chroot.
Status KafkaConnectOf(const Inventory& inventory, const std::vector<ZkServer>& servers, std::string* hosts,
                      std::string* chroot) {
  const char* kVar = "kafka_zookeeper_connect";
  std::string text, where;
  if (const InventoryGroup* all = inventory.FindGroup("all")) {
    auto it = all->vars.find(kVar);
    if (it != all->vars.end() && it->is_string()) {
      text = it->get<std::string>();
      where = "group all";
    }
  }
  for (const auto& [name, host] : inventory.hosts) {
    if (!where.empty()) break;
    text = host.VarString(kVar);
    if (!text.empty()) where = "host " + name;
  }
  if (where.empty()) {
    *hosts = ZkConnectString(inventory, servers);
    chroot->clear();
    return Status::Ok();
  }
  Status st = ParseZkConnect(text, hosts, chroot);
  if (!st.ok()) {
    return Status::Invalid("inventory " + inventory.path + ": " + where + ": " + kVar + " " + st.message() +
                           " (Kafka's zookeeper.connect, e.g. zk1:2181,zk2:2181/kafka)");
  }
  return Status::Ok();
}

// Kafka creates its chroot and /brokers/ids when it first starts (ZkData's persistent paths), so
// when one is missing the probe is looking in the wrong place: that is never "no brokers" or "no
// controller". Returns false with `why` set to the first missing one, or to the error met.
bool KafkaRootPresent(const KafkaView& v, Status* why) {
  std::vector<std::string> paths;
  if (!v.chroot.empty()) paths.push_back(v.chroot);
  paths.push_back(v.chroot + "/brokers/ids");
  for (const auto& p : paths) {
    ZkError e = v.zk->Exists(p, nullptr, why);
    if (e == ZkError::kNoNode) {
      *why = Status::Unavailable(KafkaNoZnodeMessage(p));
      return false;
    }
    if (e != ZkError::kOk) return false;
  }
  return true;
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
    std::string hosts;
    FAULTLINE_RETURN_IF_ERROR(KafkaConnectOf(inventory, servers, &hosts, &base.chroot));
    // The session is on the ensemble's root so that a missing chroot can be told and named.
    auto session = std::make_shared<ZnodeSession>(hosts);
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
  ZkError e = v.zk->Children(v.chroot + "/brokers/ids", &children, why);
  ids->clear();
  if (e == ZkError::kNoNode) {
    if (KafkaRootPresent(v, why)) *why = Status::Unavailable(KafkaNoZnodeMessage(v.chroot + "/brokers/ids"));
    return false;
  }
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
    ZkError e = v.zk->Children(v.chroot + "/brokers/topics", &topics, why);
    if (e == ZkError::kNoNode) {
      // /brokers/topics is one of Kafka's persistent paths too.
      if (KafkaRootPresent(v, why)) *why = Status::Unavailable(KafkaNoZnodeMessage(v.chroot + "/brokers/topics"));
      return false;
    }
    if (e != ZkError::kOk) return false;
  }
  for (const auto& t : topics) {
    std::string data;
    std::string topic_path = v.chroot + "/brokers/topics/" + t;
    ZkError e = v.zk->Get(topic_path, &data, nullptr, why);
    if (e == ZkError::kNoNode) {
      if (v.topic.empty()) continue;  // deleted between the listing and the read
      if (KafkaRootPresent(v, why)) *why = Status::Unavailable("no " + topic_path + " on the ensemble (no topic '" + t + "')");
      return false;
    }
    if (e != ZkError::kOk) return false;
    std::map<int, std::vector<int>> assignment;
    if (!DecodeKafkaTopic(data, &assignment)) {
      *why = Status::Unavailable(topic_path + ": not a topic assignment record");
      return false;
    }
    for (const auto& [p, replicas] : assignment) {
      PartitionInfo info;
      info.topic = t;
      info.partition = p;
      info.replicas = replicas;
      e = v.zk->Get(v.chroot + KafkaPartitionStatePath(t, p), &data, nullptr, why);
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
  std::string path = v.chroot + KafkaPartitionStatePath(v.topic, v.partition);
  ZkError e = v.zk->Get(path, &data, nullptr, why);
  *exists = e == ZkError::kOk;
  if (e == ZkError::kNoNode) {
    // A partition of an existing topic without state yet is offline; no topic is no answer.
    std::string topic_path = v.chroot + "/brokers/topics/" + v.topic;
    ZkError te = v.zk->Exists(topic_path, nullptr, why);
    if (te == ZkError::kOk) return true;
    if (te != ZkError::kNoNode) return false;
    if (KafkaRootPresent(v, why)) *why = Status::Unavailable("no " + topic_path + " on the ensemble (no topic '" + v.topic + "')");
    return false;
  }
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
                  std::string path = v.chroot + "/controller";
                  ZkError e = v.zk->Get(path, &data, nullptr, &why);
                  if (e == ZkError::kNoNode) {
                    if (!KafkaRootPresent(v, &why)) return Observation::Unreachable(why.message());
                    return Observation::Value(nullptr);
                  }
                  if (e != ZkError::kOk) return Observation::Unreachable(why.message());
                  KafkaController c;
                  if (!DecodeKafkaController(data, &c)) {
                    return Observation::Unreachable(path + ": not a controller record: " + data);
                  }
                  // During a ZooKeeper->KRaft migration a KRaft controller holds /controller;
                  // its id is a KRaft node id, not a broker's, so no broker host is named.
                  if (c.kraft()) return Observation::Unreachable(KafkaKRaftControllerMessage(c));
                  std::string h = HostOfBroker(ctx.inventory(), c.id);
                  Observation o = Observation::Value(h);
                  o.roles[h] = "controller";
                  return o;
                });
  RegisterKafka("kafka.controller_epoch", "the number in /controller_epoch; null before any election", false,
                false, false, [](ProbeContext&, const KafkaView& v) {
                  std::string data;
                  Status why;
                  ZkError e = v.zk->Get(v.chroot + "/controller_epoch", &data, nullptr, &why);
                  if (e == ZkError::kNoNode) {
                    if (!KafkaRootPresent(v, &why)) return Observation::Unreachable(why.message());
                    return Observation::Value(nullptr);
                  }
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
                  if (!exists || !s.led()) return Observation::Value(nullptr);
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
                    bool leader_live = p.has_state && p.state.led() &&
                                       std::find(live.begin(), live.end(), p.state.leader) != live.end();
                    n += !leader_live;
                  }
                  return Observation::Value(n);
                });
}

}  // namespace faultline

#include "checks/kafka_znodes.h"

// Formats: core/src/main/scala/kafka/zk/ZkData.scala (apache/kafka), one object per znode.
namespace faultline {

std::string EncodeKafkaBroker(const KafkaBrokerInfo& b) {
  std::string endpoint = "PLAINTEXT://" + b.host + ":" + std::to_string(b.port);
  nlohmann::json j = {
      {"listener_security_protocol_map", {{"PLAINTEXT", "PLAINTEXT"}}},
      {"endpoints", {endpoint}},
      {"jmx_port", -1},
      {"features", nlohmann::json::object()},
      {"host", b.host},
      {"timestamp", std::to_string(b.timestamp_ms)},
      {"port", b.port},
      {"version", 5}};
  return j.dump();
}

// Format: core/src/main/scala/kafka/zk/ZkData.scala, BrokerIdZNode.decode: version 1 has only host/port; from version 2 the endpoints
// ("<listener name>://host:port", IPv6 hosts in brackets) are what the broker serves, and
// host/port are the PLAINTEXT listener's, null and -1 on a broker without one (SSL only,
// or listener names such as CLIENT://).
bool DecodeKafkaBroker(const std::string& text, KafkaBrokerInfo* out) try {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  out->host = j.contains("host") && j["host"].is_string() ? j["host"].get<std::string>() : "";
  out->port = j.contains("port") && j["port"].is_number_integer() ? j["port"].get<int>() : 0;
  if ((out->host.empty() || out->port <= 0) && j.contains("endpoints") && j["endpoints"].is_array() &&
      !j["endpoints"].empty() && j["endpoints"][0].is_string()) {
    std::string ep = j["endpoints"][0];
    auto scheme = ep.find("://");
    auto colon = ep.rfind(':');
    if (scheme != std::string::npos && colon != std::string::npos && colon > scheme + 3) {
      std::string host = ep.substr(scheme + 3, colon - scheme - 3);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      out->host = host;
      out->port = std::atoi(ep.c_str() + colon + 1);
    }
  }
  if (j.contains("timestamp") && j["timestamp"].is_string()) {
    out->timestamp_ms = std::atoll(j["timestamp"].get<std::string>().c_str());
  }
  return true;
} catch (const nlohmann::json::exception&) {
  return false;
}

std::string EncodeKafkaController(int broker_id, long long timestamp_ms) {
  nlohmann::json j = {{"version", 1}, {"brokerid", broker_id},
                      {"timestamp", std::to_string(timestamp_ms)}};
  return j.dump();
}

// Format: core/src/main/scala/kafka/zk/ZkData.scala, ControllerZNode.decodeController (version 2 adds kraftControllerEpoch, Kafka 3.4).
bool DecodeKafkaController(const std::string& text, KafkaController* out) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("brokerid") || !j["brokerid"].is_number_integer()) return false;
  *out = KafkaController{};
  out->id = j["brokerid"].get<int>();
  if (j.contains("version")) {
    if (!j["version"].is_number_integer()) return false;
    out->version = j["version"].get<int>();
  }
  if (j.contains("timestamp") && j["timestamp"].is_string()) {
    out->timestamp_ms = std::atoll(j["timestamp"].get<std::string>().c_str());
  }
  if (j.contains("kraftControllerEpoch")) {
    if (!j["kraftControllerEpoch"].is_number_integer()) return false;
    out->kraft_controller_epoch = j["kraftControllerEpoch"].get<int>();
  }
  return true;
}

std::string EncodeKafkaPartitionState(const KafkaPartitionState& s) {
  nlohmann::json j = {{"controller_epoch", s.controller_epoch}, {"leader", s.leader},
                      {"version", 1}, {"leader_epoch", s.leader_epoch}, {"isr", s.isr}};
  return j.dump();
}

// Format: core/src/main/scala/kafka/zk/ZkData.scala, TopicPartitionStateZNode.decode.
bool DecodeKafkaPartitionState(const std::string& text, KafkaPartitionState* out) try {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("leader") || !j.contains("isr") || !j["isr"].is_array()) {
    return false;
  }
  out->controller_epoch = j.value("controller_epoch", 0);
  out->leader = j.value("leader", -1);
  out->leader_epoch = j.value("leader_epoch", 0);
  out->leader_recovery_state = j.value("leader_recovery_state", 0);
  // LeaderRecoveryState.of refuses anything but 0 and 1.
  if (out->leader_recovery_state != 0 && out->leader_recovery_state != 1) return false;
  out->isr.clear();
  for (const auto& v : j["isr"]) {
    if (!v.is_number_integer()) return false;
    out->isr.push_back(v.get<int>());
  }
  return true;
} catch (const nlohmann::json::exception&) {
  return false;  // a field of the wrong type
}

std::string EncodeKafkaTopic(const std::map<int, std::vector<int>>& assignment) {
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& [p, replicas] : assignment) parts[std::to_string(p)] = replicas;
  nlohmann::json j = {{"version", 2}, {"partitions", parts},
                      {"adding_replicas", nlohmann::json::object()},
                      {"removing_replicas", nlohmann::json::object()}};
  return j.dump();
}

// Format: core/src/main/scala/kafka/zk/ZkData.scala, TopicZNode.decode.
bool DecodeKafkaTopic(const std::string& text, std::map<int, std::vector<int>>* out, std::string* topic_id) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("partitions") || !j["partitions"].is_object()) return false;
  out->clear();
  if (topic_id) {
    topic_id->clear();
    if (j.contains("topic_id")) {
      if (!j["topic_id"].is_string()) return false;
      *topic_id = j["topic_id"].get<std::string>();
    }
  }
  for (const auto& [key, replicas] : j["partitions"].items()) {
    if (!replicas.is_array()) return false;
    std::vector<int> r;
    for (const auto& v : replicas) {
      if (!v.is_number_integer()) return false;
      r.push_back(v.get<int>());
    }
    (*out)[std::atoi(key.c_str())] = r;
  }
  return true;
}

std::string KafkaPartitionStatePath(const std::string& topic, int partition) {
  return "/brokers/topics/" + topic + "/partitions/" + std::to_string(partition) + "/state";
}

std::string KafkaNoZnodeMessage(const std::string& path) {
  return "no " + path + " on the ensemble (wrong chroot?)";
}

std::string KafkaKRaftControllerMessage(const KafkaController& c) {
  return "/controller is held by KRaft controller " + std::to_string(c.id) + " (migration), kraftControllerEpoch " +
         std::to_string(c.kraft_controller_epoch) + ": no broker is controller";
}

}  // namespace faultline

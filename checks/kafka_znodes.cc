#include "checks/kafka_znodes.h"

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

bool DecodeKafkaBroker(const std::string& text, KafkaBrokerInfo* out) try {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  out->host = j.contains("host") && j["host"].is_string() ? j["host"].get<std::string>() : "";
  out->port = j.contains("port") && j["port"].is_number_integer() ? j["port"].get<int>() : 0;
  // Brokers with only non-PLAINTEXT listeners write host null and port -1; the endpoint has it.
  if ((out->host.empty() || out->port <= 0) && j.contains("endpoints") && j["endpoints"].is_array() &&
      !j["endpoints"].empty() && j["endpoints"][0].is_string()) {
    std::string ep = j["endpoints"][0];
    auto scheme = ep.find("://");
    auto colon = ep.rfind(':');
    if (scheme != std::string::npos && colon != std::string::npos && colon > scheme + 3) {
      out->host = ep.substr(scheme + 3, colon - scheme - 3);
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

int DecodeKafkaController(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("brokerid") || !j["brokerid"].is_number_integer()) return -1;
  return j["brokerid"].get<int>();
}

std::string EncodeKafkaPartitionState(const KafkaPartitionState& s) {
  nlohmann::json j = {{"controller_epoch", s.controller_epoch}, {"leader", s.leader},
                      {"version", 1}, {"leader_epoch", s.leader_epoch}, {"isr", s.isr}};
  return j.dump();
}

bool DecodeKafkaPartitionState(const std::string& text, KafkaPartitionState* out) try {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("leader") || !j.contains("isr") || !j["isr"].is_array()) {
    return false;
  }
  out->controller_epoch = j.value("controller_epoch", 0);
  out->leader = j.value("leader", -1);
  out->leader_epoch = j.value("leader_epoch", 0);
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

bool DecodeKafkaTopic(const std::string& text, std::map<int, std::vector<int>>* out) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("partitions") || !j["partitions"].is_object()) return false;
  out->clear();
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

}  // namespace faultline

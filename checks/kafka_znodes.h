// What Kafka (ZooKeeper mode) keeps in ZooKeeper, as JSON text:
//   /brokers/ids/<id>        ephemeral {"listener_security_protocol_map":{...},"endpoints":[...],
//                            "jmx_port":-1,"features":{},"host":h,"timestamp":"ms","port":p,"version":5}
//   /controller              ephemeral {"version":1,"brokerid":id,"timestamp":"ms"}
//   /controller_epoch        persistent, the epoch as decimal text
//   /brokers/topics/<t>      persistent {"version":2,"partitions":{"0":[1,2,3]},
//                            "adding_replicas":{},"removing_replicas":{}}
//   /brokers/topics/<t>/partitions/<p>/state
//                            {"controller_epoch":e,"leader":id,"version":1,"leader_epoch":n,
//                             "isr":[...]}  (leader -1: offline)
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace faultline {

struct KafkaBrokerInfo {
  int id = -1;
  std::string host;
  int port = 0;
  long long timestamp_ms = 0;
};
std::string EncodeKafkaBroker(const KafkaBrokerInfo& b);
bool DecodeKafkaBroker(const std::string& text, KafkaBrokerInfo* out);

std::string EncodeKafkaController(int broker_id, long long timestamp_ms);
// -1 when the text is not a controller record.
int DecodeKafkaController(const std::string& text);

struct KafkaPartitionState {
  int controller_epoch = 0;
  int leader = -1;
  int leader_epoch = 0;
  std::vector<int> isr;
};
std::string EncodeKafkaPartitionState(const KafkaPartitionState& s);
bool DecodeKafkaPartitionState(const std::string& text, KafkaPartitionState* out);

// partition -> replicas
std::string EncodeKafkaTopic(const std::map<int, std::vector<int>>& assignment);
bool DecodeKafkaTopic(const std::string& text, std::map<int, std::vector<int>>* out);

std::string KafkaPartitionStatePath(const std::string& topic, int partition);

}  // namespace faultline

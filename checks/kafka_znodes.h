// What Kafka (ZooKeeper mode) keeps in ZooKeeper, as JSON text:
//   /brokers/ids/<id>        ephemeral {"listener_security_protocol_map":{...},"endpoints":[...],
//                            "jmx_port":-1,"features":{},"host":h,"timestamp":"ms","port":p,"version":5}
//   /controller              ephemeral {"version":1,"brokerid":id,"timestamp":"ms"}, or from 3.4
//                            {"version":2,"brokerid":id,"timestamp":"ms","kraftControllerEpoch":e}
//                            where e is -1 unless a KRaft controller holds it (ZK->KRaft migration)
//   /controller_epoch        persistent, the epoch as decimal text
//   /brokers/topics/<t>      persistent {"version":2,"partitions":{"0":[1,2,3]},
//                            "adding_replicas":{},"removing_replicas":{}}
//   /brokers/topics/<t>/partitions/<p>/state
//                            {"controller_epoch":e,"leader":id,"version":1,"leader_epoch":n,
//                             "isr":[...]}  (leader -1: offline; "leader_recovery_state":1 is
//                             added while the leader is RECOVERING after an unclean election)
// Format of every record: core/src/main/scala/kafka/zk/ZkData.scala (apache/kafka, 3.4+).
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

// ControllerZNode.decodeController: brokerid is a broker id, unless kraftControllerEpoch is
// present and not -1; then it is the node id of the KRaft controller that has taken over
// during a ZooKeeper->KRaft migration, and no broker is controller.
struct KafkaController {
  int version = 0;
  int id = -1;
  long long timestamp_ms = 0;
  int kraft_controller_epoch = -1;  // -1 when absent (version 1) or written by a ZK controller
  bool kraft() const { return kraft_controller_epoch != -1; }
};
// False when the text is not a controller record (no integer brokerid, fields of the wrong type).
bool DecodeKafkaController(const std::string& text, KafkaController* out);

struct KafkaPartitionState {
  int controller_epoch = 0;
  int leader = -1;
  int leader_epoch = 0;
  std::vector<int> isr;
  // LeaderRecoveryState (metadata/.../LeaderRecoveryState.java): 0 RECOVERED (absent), 1 RECOVERING.
  int leader_recovery_state = 0;
  // A leader that is still recovering is not serving: the partition is not led.
  bool led() const { return leader >= 0 && leader_recovery_state == 0; }
};
std::string EncodeKafkaPartitionState(const KafkaPartitionState& s);
bool DecodeKafkaPartitionState(const std::string& text, KafkaPartitionState* out);

// partition -> replicas
std::string EncodeKafkaTopic(const std::map<int, std::vector<int>>& assignment);
// TopicZNode.decode: versions 1-3; `topic_id` (version 3, a base64 Uuid) when asked and present.
bool DecodeKafkaTopic(const std::string& text, std::map<int, std::vector<int>>* out,
                      std::string* topic_id = nullptr);

std::string KafkaPartitionStatePath(const std::string& topic, int partition);

// "no <path> on the ensemble (wrong chroot?)": a znode Kafka always creates is missing.
std::string KafkaNoZnodeMessage(const std::string& path);
// "/controller is held by KRaft controller <id> (migration), kraftControllerEpoch <e>: no broker is controller"
std::string KafkaKRaftControllerMessage(const KafkaController& c);

}  // namespace faultline

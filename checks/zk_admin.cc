#include "checks/zk_admin.h"

#include "checks/http_client.h"

namespace faultline {
namespace {

// Commands.runCommand's answer for a command that needs a running server.
constexpr const char* kNotServing = "This ZooKeeper instance is not currently serving requests";

Status ErrorOf(const nlohmann::json& answer, const std::string& command) {
  if (!answer.is_object()) return Status::Unavailable("AdminServer " + command + ": the answer is not a JSON object");
  auto it = answer.find("error");
  if (it == answer.end() || it->is_null()) return Status::Ok();
  return Status::Unavailable("AdminServer " + command + ": " +
                             (it->is_string() ? it->get<std::string>() : it->dump()));
}

// One value as ZooKeeper's mntr prints it (Java's toString of the same object).
std::string MntrText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "null";
  return v.dump();
}

}  // namespace

std::string ZkAdminBaseUrl(const std::string& address, int port) {
  std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return "http://" + host + ":" + std::to_string(port) + "/commands";
}

Status ReadAdminCommand(const ZkAdminEndpoint& endpoint, const std::string& command,
                        std::chrono::milliseconds timeout, nlohmann::json* out) {
  HttpRequest req;
  req.url = endpoint.base_url + "/" + command;
  req.timeout = timeout;
  req.ca_file = endpoint.ca_file;
  HttpResponse resp;
  Status st = HttpGet(req, &resp);
  if (!st.ok()) return st;
  if (resp.status != 200) return Status::Unavailable("AdminServer: " + DescribeHttpError(req, resp));
  *out = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (!out->is_object()) {
    std::string first = resp.body.substr(0, resp.body.find('\n')).substr(0, 120);
    return Status::Unavailable("AdminServer " + req.url + ": the answer is not a JSON object (starts with \"" +
                               first + "\")");
  }
  return Status::Ok();
}

Status ParseAdminSrvr(const nlohmann::json& answer, ZkServerStatus* out) {
  *out = ZkServerStatus();
  if (answer.is_object() && answer.value("error", nlohmann::json()) == kNotServing) return Status::Ok();
  Status st = ErrorOf(answer, "srvr");
  if (!st.ok()) return st;
  auto stats = answer.find("server_stats");
  if (stats == answer.end() || !stats->is_object() || !stats->contains("server_state") ||
      !(*stats)["server_state"].is_string()) {
    return Status::Unavailable("AdminServer srvr: no server_stats.server_state in the answer");
  }
  out->mode = (*stats)["server_state"].get<std::string>();
  auto number = [](const nlohmann::json& obj, const char* key) -> long long {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<long long>() : -1;
  };
  out->zxid = number(*stats, "last_processed_zxid");
  out->outstanding = number(*stats, "outstanding_requests");
  out->znode_count = number(answer, "node_count");
  if (answer.contains("version") && answer["version"].is_string()) out->version = answer["version"].get<std::string>();
  out->serving = true;
  return Status::Ok();
}

Status ParseAdminMonitor(const nlohmann::json& answer, std::map<std::string, std::string>* out) {
  out->clear();
  Status st = ErrorOf(answer, "monitor");
  if (!st.ok()) return st;
  for (const auto& [key, value] : answer.items()) {
    if (key == "command" || key == "error") continue;
    (*out)["zk_" + key] = MntrText(value);
  }
  return Status::Ok();
}

}  // namespace faultline

#include "checks/hbase_jmx.h"

#include <algorithm>

#include "checks/http_client.h"

namespace faultline {
namespace {

// HBase 1.x's MetricsAssignmentManagerSource.METRICS_NAME (corrected in 2.0).
constexpr const char* kHBase1AssignmentManagerBean = "Hadoop:service=HBase,name=Master,sub=AssignmentManger";

// A gauge the servlet wrote as a JSON number (Gson writes integral gauges without a fraction).
Status IntegerAttribute(const nlohmann::json& bean, const std::string& bean_name, const std::string& attribute,
                        int64_t* out) {
  auto it = bean.find(attribute);
  if (it == bean.end()) return Status::Unavailable("no attribute " + attribute + " in bean " + bean_name);
  if (!it->is_number_integer()) {
    return Status::Unavailable("attribute " + attribute + " of bean " + bean_name + " is not an integer: " + it->dump());
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

}  // namespace

std::string HBaseMasterJmxUrl(const std::string& host, int port) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + std::to_string(port) + "/jmx";
}

Status ReadJmxQuery(const std::string& jmx_url, const std::string& bean, std::chrono::milliseconds timeout,
                    nlohmann::json* out) {
  HttpRequest req;
  req.url = jmx_url + "?qry=" + bean;
  req.timeout = timeout;
  HttpResponse resp;
  Status st = HttpGet(req, &resp);
  if (!st.ok()) return st;
  if (resp.status != 200) return Status::Unavailable(DescribeHttpError(req, resp));
  *out = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (!out->is_object()) {
    std::string first = resp.body.substr(0, resp.body.find('\n')).substr(0, 120);
    return Status::Unavailable(req.url + ": the answer is not a JSON object (starts with \"" + first + "\")");
  }
  return Status::Ok();
}

Status FindJmxBean(const nlohmann::json& answer, const std::string& name, const nlohmann::json** bean) {
  auto beans = answer.is_object() ? answer.find("beans") : answer.end();
  if (!answer.is_object() || beans == answer.end() || !beans->is_array()) {
    return Status::Invalid("not a JMX servlet answer (no \"beans\" list)");
  }
  for (const auto& b : *beans) {
    if (b.is_object() && b.value("name", "") == name) {
      *bean = &b;
      return Status::Ok();
    }
  }
  return Status::Unavailable("no bean " + name + " in the answer");
}

Status DecodeHBaseRitCount(const nlohmann::json& answer, int64_t* rit) {
  const nlohmann::json* bean = nullptr;
  std::string name = kHBaseAssignmentManagerBean;
  Status st = FindJmxBean(answer, name, &bean);
  if (st.code() == Status::Code::kUnavailable && FindJmxBean(answer, kHBase1AssignmentManagerBean, &bean).ok()) {
    name = kHBase1AssignmentManagerBean;
    st = Status::Ok();
  }
  if (!st.ok()) return st;
  return IntegerAttribute(*bean, name, "ritCount", rit);
}

Status DecodeHBaseDeadServers(const nlohmann::json& answer, HBaseDeadServers* out) {
  *out = HBaseDeadServers();
  const nlohmann::json* bean = nullptr;
  FAULTLINE_RETURN_IF_ERROR(FindJmxBean(answer, kHBaseMasterServerBean, &bean));
  FAULTLINE_RETURN_IF_ERROR(IntegerAttribute(*bean, kHBaseMasterServerBean, "numDeadRegionServers", &out->count));
  auto it = bean->find("tag.deadRegionServers");
  if (it == bean->end()) {
    return Status::Unavailable(std::string("no attribute tag.deadRegionServers in bean ") + kHBaseMasterServerBean);
  }
  if (!it->is_string()) {
    return Status::Unavailable(std::string("attribute tag.deadRegionServers of bean ") + kHBaseMasterServerBean +
                               " is not a string: " + it->dump());
  }
  const std::string list = it->get<std::string>();
  for (size_t start = 0; start < list.size();) {
    size_t end = std::min(list.find(';', start), list.size());
    if (end > start) out->server_names.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace faultline

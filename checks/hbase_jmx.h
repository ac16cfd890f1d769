// The active HBase master's JMX servlet (`GET http://<master>:16010/jmx?qry=<bean>`, the info
// port hbase.master.info.port), read for what ZooKeeper does not hold on a real cluster: the
// regions in transition and the RegionServers the master has processed as dead.
//
// Formats:
//   hbase-http/src/main/java/org/apache/hadoop/hbase/http/jmx/JMXJsonServlet.java and
//   hbase-http/src/main/java/org/apache/hadoop/hbase/util/JSONBean.java: the answer is
//   {"beans":[{"name":"<ObjectName>","modelerType":..., <attribute>: <value>, ...}]}, HTTP 200
//   with an empty list when the query names no registered bean.
//   hadoop-common .../metrics2/impl/MetricsSourceAdapter.java: a metrics2 tag is the attribute
//   "tag.<name>", a gauge the attribute "<name>".
//   hbase-hadoop-compat/.../master/MetricsAssignmentManagerSource.java: bean
//   "Hadoop:service=HBase,name=Master,sub=AssignmentManager" (HBase 1.x spelled it
//   "AssignmentManger"), gauge "ritCount". Only the active master registers it.
//   hbase-hadoop-compat/.../master/MetricsMasterSource.java, MetricsMasterSourceImpl.java and
//   hbase-server/.../master/MetricsMasterWrapperImpl.java: bean
//   "Hadoop:service=HBase,name=Master,sub=Server", gauge "numDeadRegionServers", tag
//   "deadRegionServers" = the dead ServerNames ("host,port,startcode") joined with ";", "" when
//   none. Both are published only while the master runs.
// Samples in tests/fixtures/hbase/jmx/.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace faultline {

inline constexpr const char* kHBaseAssignmentManagerBean = "Hadoop:service=HBase,name=Master,sub=AssignmentManager";
inline constexpr const char* kHBaseMasterServerBean = "Hadoop:service=HBase,name=Master,sub=Server";
inline constexpr int kHBaseMasterInfoPort = 16010;  // hbase.master.info.port's default

// "http://<host>:<port>/jmx" (an IPv6 address in brackets).
std::string HBaseMasterJmxUrl(const std::string& host, int port);

// GET <jmx_url>?qry=<bean>. kOk with the servlet's JSON object when it answered 200 with one;
// kUnavailable or kTimeout naming the URL otherwise.
Status ReadJmxQuery(const std::string& jmx_url, const std::string& bean, std::chrono::milliseconds timeout,
                    nlohmann::json* out);

// The bean named `name` in a servlet answer; kUnavailable "no bean <name> in the answer" when
// absent, kInvalid when the answer has no "beans" list.
Status FindJmxBean(const nlohmann::json& answer, const std::string& name, const nlohmann::json** bean);

// ritCount of the AssignmentManager bean (or HBase 1.x's AssignmentManger).
Status DecodeHBaseRitCount(const nlohmann::json& answer, int64_t* rit);

struct HBaseDeadServers {
  int64_t count = 0;                       // numDeadRegionServers
  std::vector<std::string> server_names;   // tag.deadRegionServers split on ';', in its order
};

// numDeadRegionServers and tag.deadRegionServers of the Server bean; either absent or of the
// wrong type is kUnavailable naming the attribute.
Status DecodeHBaseDeadServers(const nlohmann::json& answer, HBaseDeadServers* out);

}  // namespace faultline

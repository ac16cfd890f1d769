// One HTTP(S) GET for the probes that read a system's own web interface: ZooKeeper's
// AdminServer (/commands/<name>), a NameNode's or HBase master's JMX servlet (/jmx),
// Prometheus' and Alertmanager's APIs.
//
// Thread safety: HttpGet may be called from any thread at the same time; each call uses its
// own connection (probes sample every ~50 ms, so nothing is kept between calls).
#pragma once

#include <chrono>
#include <string>

#include "base/status.h"

namespace faultline {

struct HttpRequest {
  std::string url;               // http://host:port/path or https://...
  std::chrono::milliseconds timeout{2000};
  std::string ca_file;           // https: the CA bundle that signs the server's certificate ("" = system's)
  std::string bearer_token;      // sent as "Authorization: Bearer <token>" when set
  std::string basic_user;        // basic authentication when set
  std::string basic_password;
};

struct HttpResponse {
  long status = 0;               // 200, 404, ...
  std::string content_type;
  std::string body;
};

// kOk whenever the server answered, whatever the status (the caller decides what a 404
// means); kTimeout when the deadline passed first; kUnavailable for everything else
// (refused, reset, name not resolved, TLS failure), with the reason and the URL.
// Credentials never appear in a returned message.
Status HttpGet(const HttpRequest& request, HttpResponse* out);

// "HTTP 503 from http://...: <first line of the body>": for an unreachable observation
// when a server answered with something other than 2xx.
std::string DescribeHttpError(const HttpRequest& request, const HttpResponse& response);

}  // namespace faultline

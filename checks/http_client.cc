#include "checks/http_client.h"

#include <curl/curl.h>

#include <mutex>

namespace faultline {
namespace {

// curl_global_init is not thread-safe before 7.84's lazy init guarantees; do it once.
void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// The largest answer a probe accepts: a /jmx page of a busy master is a few hundred KiB.
constexpr curl_off_t kMaxBody = 16 << 20;

}  // namespace

Status HttpGet(const HttpRequest& request, HttpResponse* out) {
  InitOnce();
  *out = HttpResponse();
  CURL* curl = curl_easy_init();
  if (!curl) return Status::Internal("curl_easy_init failed");
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  std::string auth;
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // probes run on many threads
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out->body);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, kMaxBody);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // A proxy from the controller's environment must not sit between a probe and the cluster.
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  if (!request.bearer_token.empty()) {
    auth = "Authorization: Bearer " + request.bearer_token;
    headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  if (!request.basic_user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic_user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic_password.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  Status st;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    char* type = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) out->content_type = type;
  } else {
    std::string why = error[0] ? error : curl_easy_strerror(rc);
    st = rc == CURLE_OPERATION_TIMEDOUT ? Status::Timeout(request.url + ": " + why)
                                        : Status::Unavailable(request.url + ": " + why);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return st;
}

std::string DescribeHttpError(const HttpRequest& request, const HttpResponse& response) {
  std::string first = response.body.substr(0, response.body.find('\n'));
  if (first.size() > 200) first = first.substr(0, 200) + "...";
  std::string msg = "HTTP " + std::to_string(response.status) + " from " + request.url;
  if (!first.empty()) msg += ": " + first;
  return msg;
}

}  // namespace faultline

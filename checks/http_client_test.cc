// HttpGet against a loopback server that answers one request with canned bytes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "checks/http_client.h"

namespace faultline {
namespace {

// Accepts one connection, reads the request head, writes `answer` (or nothing when `silent`).
class OneShotServer {
 public:
  OneShotServer(std::string answer, bool silent = false) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this, answer, silent] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, n);
      }
      request_ = got;
      if (!silent) {
        ssize_t w = write(c, answer.data(), answer.size());
        (void)w;
      } else {
        usleep(600 * 1000);
      }
      close(c);
    });
  }
  ~OneShotServer() {
    Join();
    close(fd_);
  }
  // The request as the server read it; waits for the answer to have been written.
  const std::string& Join() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(HttpGet, ReturnsStatusTypeAndBodyAndSendsTheToken) {
  OneShotServer s("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                  "Connection: close\r\n\r\n{\"ok\":true}");
  HttpRequest q;
  q.url = s.Url("/commands/monitor");
  q.bearer_token = "t0k";
  HttpResponse r;
  ASSERT_TRUE(HttpGet(q, &r).ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"ok\":true}");
  const std::string& req = s.Join();
  EXPECT_EQ(req.rfind("GET /commands/monitor HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Authorization: Bearer t0k\r\n"), std::string::npos) << req;
}

TEST(HttpGet, AnErrorStatusIsAnAnswerAndDescribedWithItsFirstLine) {
  OneShotServer s("HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\nConnection: close\r\n\r\nno such bean\nsecond\n");
  HttpRequest q;
  q.url = s.Url("/jmx");
  HttpResponse r;
  ASSERT_TRUE(HttpGet(q, &r).ok());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(DescribeHttpError(q, r), "HTTP 404 from " + q.url + ": no such bean");
}

TEST(HttpGet, ARefusedPortIsUnavailableNamingTheUrl) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);  // bound once, now nobody listens there
  HttpRequest q;
  q.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/commands/srvr";
  HttpResponse r;
  Status st = HttpGet(q, &r);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message().rfind(q.url + ": ", 0), 0u) << st.message();
}

TEST(HttpGet, ASilentServerIsATimeout) {
  OneShotServer s("", /*silent=*/true);
  HttpRequest q;
  q.url = s.Url("/jmx");
  q.timeout = std::chrono::milliseconds(200);
  HttpResponse r;
  EXPECT_EQ(HttpGet(q, &r).code(), Status::Code::kTimeout);
}

TEST(HttpGet, BasicCredentialsNeverAppearInAnError) {
  HttpRequest q;
  q.url = "http://127.0.0.1:1/api/v1/alerts";
  q.basic_user = "ops";
  q.basic_password = "s3cret-pw";
  HttpResponse r;
  Status st = HttpGet(q, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("s3cret-pw"), std::string::npos);
}

}  // namespace
}  // namespace faultline

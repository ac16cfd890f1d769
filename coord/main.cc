// quorumd CONFIG: the bundled ZooKeeper-compatible coordination server, standalone or as a
// member of the ensemble its zoo.cfg lists (server.N lines and dataDir/myid).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "coord/config.h"
#include "coord/log.h"
#include "coord/server.h"

namespace {
faultline::coord::Server* g_server = nullptr;
void OnSignal(int) {
  if (g_server) g_server->RequestStop();
}
}  // namespace

int main(int argc, char** argv) {
  using namespace faultline::coord;
  if (argc != 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fprintf(stderr,
                 "usage: quorumd CONFIG\n"
                 "  Serves ZooKeeper's client protocol on clientPort, storing its transaction log\n"
                 "  and snapshots in dataDir/version-2. CONFIG is a zoo.cfg; with two or more\n"
                 "  server.N=host:quorumPort:electionPort lines it joins that ensemble as myid.\n"
                 "  QUORUMD_LOG_FILE=PATH appends the log there instead of stderr.\n");
    return argc == 2 ? 0 : 2;
  }
  if (const char* path = getenv("QUORUMD_LOG_FILE")) {
    if (!SetLogFile(path)) {
      std::fprintf(stderr, "quorumd: cannot open log file %s: %s\n", path, std::strerror(errno));
      return 2;
    }
  }
  Config config;
  faultline::Status st = ParseConfig(argv[1], &config);
  if (!st.ok()) {
    std::fprintf(stderr, "quorumd: %s\n", st.message().c_str());
    Log(LogLevel::kError, "ZooKeeperServerMain@0", "Invalid config, exiting abnormally: {}", st.message());
    return 2;
  }
  if (!config.servers.empty()) SetLogMyid(config.server_id);
  if (config.servers.size() == 1) {
    Log(LogLevel::kInfo, "QuorumPeerMain@0", "{} lists one server: running standalone", config.path);
  }
  Server server(config);
  g_server = &server;
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  st = server.Start();
  if (!st.ok()) {
    Log(LogLevel::kError, "ZooKeeperServerMain@0", "Unable to start: {}", st.message());
    return 3;
  }
  st = server.Run();
  if (!st.ok()) {
    Log(LogLevel::kError, "ZooKeeperServerMain@0", "Unexpected exception, exiting abnormally: {}", st.message());
    return 1;
  }
  return 0;
}

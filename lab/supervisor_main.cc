// faultline-supervisor: the lab's per-host service manager (see lab/supervisor.h).
//
//   faultline-supervisor run CONFIG.json
//   faultline-supervisor --socket PATH start|stop|restart|status NAME
//   faultline-supervisor --socket PATH list
#include <cstdio>
#include <cstring>
#include <string>

#include "lab/supervisor.h"

int main(int argc, char** argv) {
  using namespace faultline::lab;
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: faultline-supervisor run CONFIG.json\n"
                 "       faultline-supervisor --socket PATH start|stop|restart|status NAME\n"
                 "       faultline-supervisor --socket PATH list\n");
    return 2;
  };
  if (argc == 3 && std::strcmp(argv[1], "run") == 0) {
    SupervisorConfig config;
    faultline::Status st = LoadSupervisorConfig(argv[2], &config);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline-supervisor: %s\n", st.message().c_str());
      return 2;
    }
    return RunSupervisor(config);
  }
  if (argc < 4 || std::strcmp(argv[1], "--socket") != 0) return usage();
  std::string request = argv[3];
  if (request != "list") {
    if (argc != 5) return usage();
    request += std::string(" ") + argv[4];
  }
  std::string reply;
  faultline::Status st = SupervisorRequest(argv[2], request, &reply);
  if (!st.ok()) {
    std::fprintf(stderr, "faultline-supervisor: %s\n", st.message().c_str());
    return 1;
  }
  int code = ReplyExitCode(reply);
  std::fprintf(code == 1 ? stderr : stdout, "%s\n", reply.c_str());
  return code;
}

#include <cstdio>

#include "lab/lab.h"
#include "orchestrator/commands.h"

namespace faultline {

namespace {
int ExitFor(const Status& st) { return st.code() == Status::Code::kInvalid ? kExitInvalid : kExitInfra; }
}  // namespace

int CmdLab(const LabOptions& options) {
  if (options.verb == "down") {
    std::string summary;
    Status st = lab::LabDown(options.state_dir, &summary);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline lab down: %s\n", st.message().c_str());
      return ExitFor(st);
    }
    std::printf("%s\n", summary.c_str());
    return kExitOk;
  }
  if (options.verb == "status") {
    std::string text;
    Status st = lab::LabStatus(options.state_dir, &text);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline lab status: %s\n", st.message().c_str());
      return st.code() == Status::Code::kNotFound ? kExitInfra : ExitFor(st);
    }
    std::printf("%s", text.c_str());
    return kExitOk;
  }
  if (options.verb != "up") {
    std::fprintf(stderr, "faultline lab: unknown verb '%s' (up, down, status)\n", options.verb.c_str());
    return kExitInvalid;
  }
  lab::LabConfig config;
  config.coord = options.coord;
  config.state_dir = options.state_dir;
  if (options.zk_count < 1 || options.zk_count > 9) {
    std::fprintf(stderr, "faultline lab up: --zk %d: expected 1 to 9 servers\n", options.zk_count);
    return kExitInvalid;
  }
  if (options.topology.empty()) {
    config.topology = lab::DefaultTopology(options.zk_count);
  } else {
    Status st = lab::LoadTopology(options.topology, options.zk_count, &config.topology);
    if (!st.ok()) {
      std::fprintf(stderr, "faultline lab up: %s\n", st.message().c_str());
      return kExitInvalid;
    }
  }
  lab::UpResult result;
  Status st = lab::LabUp(config, &result);
  if (!st.ok()) {
    std::fprintf(stderr, "faultline lab up: %s\n", st.message().c_str());
    return ExitFor(st);
  }
  std::printf("%s\n", result.summary.c_str());
  return kExitOk;
}

}  // namespace faultline

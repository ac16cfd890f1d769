// `faultline demo`: the whole product on one machine. Lab up, the quarterly drills F1–F6,
// the reports, lab down — and the lab goes down whatever happened in between.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lab/lab.h"
#include "orchestrator/commands.h"

namespace faultline {
namespace {

// The demo keeps its lab apart from one a user brought up by hand, so it never takes
// down someone else's lab; a demo that crashed is cleaned up by the next one.
constexpr const char* kDemoStateDir = "/run/faultline-demo";

// drills/ next to the working directory (scripts/demo runs from the checkout), else next
// to the installed binary's tree.
std::string FindDrill(const std::string& id) {
  namespace fs = std::filesystem;
  std::vector<fs::path> roots = {fs::current_path()};
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = self.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      roots.push_back(dir);
    }
  }
  for (const auto& root : roots) {
    fs::path candidate = root / "drills" / (id + ".yaml");
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "";
}

class LabGuard {
 public:
  explicit LabGuard(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  ~LabGuard() {
    std::string summary;
    std::fprintf(stderr, "demo: taking the lab down\n");
    Status st = lab::LabDown(state_dir_, &summary);
    if (!st.ok()) {
      std::fprintf(stderr, "demo: lab down failed: %s\n  run `faultline lab down --state-dir %s` to retry\n",
                   st.message().c_str(), state_dir_.c_str());
    } else if (!summary.empty()) {
      std::fprintf(stderr, "%s\n", summary.c_str());
    }
  }

 private:
  std::string state_dir_;
};

}  // namespace

int CmdDemo(const DemoOptions& options) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "faultline demo: run as root (the lab makes network namespaces, mounts and iptables rules)\n");
    return kExitInvalid;
  }
  std::vector<std::string> drills = options.drills;
  if (drills.empty()) {
    for (const char* id : {"F1", "F2", "F3", "F4", "F5", "F6"}) {
      std::string path = FindDrill(id);
      if (path.empty()) {
        std::fprintf(stderr, "faultline demo: drills/%s.yaml not found (run from the faultline checkout)\n", id);
        return kExitInvalid;
      }
      drills.push_back(path);
    }
  }

  // Leftovers of an earlier demo that was killed: removed before anything new is made.
  std::string summary;
  if (Status st = lab::LabDown(kDemoStateDir, &summary); !st.ok()) {
    std::fprintf(stderr, "faultline demo: an earlier demo's lab could not be removed: %s\n", st.message().c_str());
    return kExitInfra;
  }

  lab::LabConfig config;
  config.coord = options.coord;
  config.state_dir = kDemoStateDir;
  config.topology = lab::DefaultTopology(options.zk_count);
  std::fprintf(stderr, "demo: bringing the lab up (%s ensemble)\n", options.coord.c_str());
  LabGuard guard(kDemoStateDir);
  lab::UpResult up;
  if (Status st = lab::LabUp(config, &up); !st.ok()) {
    std::fprintf(stderr, "faultline demo: lab up: %s\n", st.message().c_str());
    return st.code() == Status::Code::kInvalid ? kExitInvalid : kExitInfra;
  }
  std::fprintf(stderr, "%s\n", up.summary.c_str());

  RunOptions run;
  run.drills = drills;
  run.inventory = lab::LabInventoryPath(kDemoStateDir);
  run.report_dir = options.report_dir;
  int code = CmdRun(run);
  std::printf("\nHTML report: %s\n", std::filesystem::absolute(options.report_dir + "/report.html").c_str());
  return code;
}

}  // namespace faultline

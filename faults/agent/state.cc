#include "faults/agent/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "faults/agent/sys.h"

namespace faultline::agent {

StateStore::Guard::~Guard() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
    close(fd_);
  }
}

Status StateStore::Init() {
  // mkdir -p, each level 0700: the state names what faultline did to the host.
  std::string partial;
  for (size_t i = 1; i <= dir_.size(); ++i) {
    if (i == dir_.size() || dir_[i] == '/') {
      partial = dir_.substr(0, i);
      if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::Unavailable("cannot create state directory " + partial + ": " +
                                   std::strerror(errno));
      }
    }
  }
  return Status::Ok();
}

Status StateStore::Lock(std::unique_ptr<Guard>* guard) const {
  std::string path = dir_ + "/lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int e = errno;
      close(fd);
      return Status::Unavailable("cannot lock " + path + ": " + std::strerror(e));
    }
  }
  *guard = std::make_unique<Guard>(fd);
  return Status::Ok();
}

Status StateStore::Load(nlohmann::json* state) const {
  std::string text;
  Status st = ReadFile(path(), &text);
  if (st.code() == Status::Code::kNotFound || (st.ok() && text.empty())) {
    *state = nlohmann::json::object();
  } else if (!st.ok()) {
    return st;
  } else {
    try {
      *state = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      return Status::Internal(path() + " is not valid JSON (" + e.what() +
                              "); it is left as it is for inspection");
    }
  }
  if (!state->contains("faults")) (*state)["faults"] = nlohmann::json::array();
  if (!state->contains("leases")) (*state)["leases"] = nlohmann::json::object();
  if (!state->contains("netfilter")) {
    (*state)["netfilter"] = {{"chains", nlohmann::json::array()},
                             {"guards", nlohmann::json::array()}};
  }
  return Status::Ok();
}

Status StateStore::Save(const nlohmann::json& state) const {
  return WriteFileAtomic(path(), state.dump(1) + "\n");
}

nlohmann::json* FindFault(nlohmann::json& state, const std::string& run, const std::string& fault) {
  for (auto& f : state["faults"]) {
    if (f.value("run", "") == run && f.value("fault", "") == fault) return &f;
  }
  return nullptr;
}

void RemoveFault(nlohmann::json& state, const std::string& run, const std::string& fault) {
  auto& faults = state["faults"];
  for (auto it = faults.begin(); it != faults.end(); ++it) {
    if (it->value("run", "") == run && it->value("fault", "") == fault) {
      faults.erase(it);
      return;
    }
  }
}

}  // namespace faultline::agent

#include "orchestrator/journal.h"

namespace faultline {

const char* ResultName(JournalVerdict::Result r) {
  switch (r) {
    case JournalVerdict::Result::kPass: return "pass";
    case JournalVerdict::Result::kFail: return "fail";
    case JournalVerdict::Result::kUnknown: return "unknown";
  }
  return "unknown";
}

// ToJson / FromJson: written by the reports part (see docs/journal.md).
nlohmann::json ToJson(const Journal& journal) {
  return nlohmann::json{{"run_id", journal.run_id}, {"drill", journal.drill}};
}

Status FromJson(const nlohmann::json&, Journal*) {
  return Status::Internal("journal reading is not built yet");
}

}  // namespace faultline

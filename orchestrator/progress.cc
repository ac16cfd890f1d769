#include "orchestrator/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cstring>

namespace faultline {

namespace {
std::string UtcNow() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Elapsed(double ms) {
  long tenths = static_cast<long>(ms / 100);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld.%ld", tenths / 600, (tenths / 10) % 60, tenths % 10);
  return buf;
}
}  // namespace

Progress::Progress(std::FILE* out, bool live) : out_(out), live_(live) {}

std::unique_ptr<Progress> Progress::ForStderr() {
  const char* term = std::getenv("TERM");
  bool live = isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
  return std::make_unique<Progress>(stderr, live);
}

void Progress::ClearLive() {
  if (live_ && live_shown_) {
    std::fputs("\r\033[K", out_);
    live_shown_ = false;
  }
}

void Progress::PrintLine(const std::string& text) {
  ClearLive();
  std::string prefix = drill_.empty() ? "" : "[" + drill_ + "] ";
  if (live_) {
    std::fprintf(out_, "%s%s\n", prefix.c_str(), text.c_str());
  } else {
    std::fprintf(out_, "%s %s%s\n", UtcNow().c_str(), prefix.c_str(), text.c_str());
  }
  std::fflush(out_);
}

void Progress::Drill(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  drill_ = name;
  phase_.clear();
  last_awaiting_.clear();
}

void Progress::Phase(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = phase;
  PrintLine("phase " + phase);
}

void Progress::Event(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  PrintLine(text);
}

void Progress::Awaiting(double elapsed_ms, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (live_) {
    // Ten redraws a second are plenty for a human and keep a recorded terminal small.
    if (live_shown_ && elapsed_ms - last_live_ms_ < 100 && elapsed_ms >= last_live_ms_) return;
    last_live_ms_ = elapsed_ms;
    std::string line = "[" + drill_ + "] " + phase_ + " " + Elapsed(elapsed_ms) + "  " + what;
    // Keep to one terminal line so \r can rewrite it.
    if (line.size() > 150) line = line.substr(0, 147) + "...";
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    std::fflush(out_);
    live_shown_ = true;
    return;
  }
  if (what != last_awaiting_ || elapsed_ms - last_plain_awaiting_ms_ >= 10000) {
    last_awaiting_ = what;
    last_plain_awaiting_ms_ = elapsed_ms;
    PrintLine(phase_ + " " + Elapsed(elapsed_ms) + " awaiting " + what);
  }
}

void Progress::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  ClearLive();
  std::fflush(out_);
}

}  // namespace faultline

#include "coord/log.h"

#include <pthread.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace faultline::coord {

namespace {
std::mutex g_mu;
FILE* g_out = nullptr;
std::atomic<long> g_myid{-1};
std::atomic<int> g_threshold{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO ";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR";
  }
  return "INFO ";
}
}  // namespace

void SetLogMyid(long myid) { g_myid = myid; }
void SetLogThreshold(LogLevel level) { g_threshold = static_cast<int>(level); }

bool SetLogFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "a");
  if (!f) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_out && g_out != stderr) fclose(g_out);
  g_out = f;
  return true;
}

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  if (static_cast<int>(level) < g_threshold.load()) return;
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm local;
  localtime_r(&tv.tv_sec, &local);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
  char thread[16] = "main";
  pthread_getname_np(pthread_self(), thread, sizeof thread);
  long myid = g_myid.load();
  std::string line = fmt::format("{},{:03d} [myid:{}] - {} [{}:{}] - {}\n", when, tv.tv_usec / 1000,
                                 myid >= 0 ? std::to_string(myid) : std::string(), LevelName(level),
                                 thread, component, message);
  std::lock_guard<std::mutex> lock(g_mu);
  FILE* out = g_out ? g_out : stderr;
  fwrite(line.data(), 1, line.size(), out);
  fflush(out);
}

}  // namespace faultline::coord

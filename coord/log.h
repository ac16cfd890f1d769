// Log lines in ZooKeeper's log4j layout and wording, so the log probes in checks/ read
// quorumd's logs and ZooKeeper's alike:
//   2026-11-22 04:32:02,965 [myid:1] - INFO  [main:FileTxnSnapLog@0] - Snapshotting: 0x0 to ...
// Thread-safe (one write per line). Goes to stderr, or to the file set by SetLogFile.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace faultline::coord {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogMyid(long myid);
bool SetLogFile(const std::string& path);
void SetLogThreshold(LogLevel level);
void LogLine(LogLevel level, std::string_view component, std::string_view message);

template <typename... Args>
void Log(LogLevel level, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  LogLine(level, component, fmt::format(f, std::forward<Args>(args)...));
}

// "0x1a2b": ZooKeeper prints session ids and zxids in lower-case hex.
inline std::string Hex(int64_t v) { return fmt::format("0x{:x}", static_cast<uint64_t>(v)); }

}  // namespace faultline::coord

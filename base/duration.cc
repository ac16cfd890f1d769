#include "base/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace faultline {
namespace {

bool Fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

// Reads a non-negative decimal number ("12", "1.5") at text[*pos]; advances *pos.
bool ReadNumber(std::string_view text, size_t* pos, double* out) {
  size_t start = *pos;
  bool dot = false;
  while (*pos < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[*pos])) || (text[*pos] == '.' && !dot))) {
    if (text[*pos] == '.') dot = true;
    ++*pos;
  }
  if (*pos == start || text[*pos - 1] == '.' || text[start] == '.') return false;
  *out = std::strtod(std::string(text.substr(start, *pos - start)).c_str(), nullptr);
  return true;
}

}  // namespace

std::optional<Millis> ParseDuration(std::string_view text, std::string* why) {
  const std::string expected = "expected a duration such as 250ms, 30s, 1m30s or 2h";
  if (text.empty()) {
    Fail(why, expected + ", got an empty value");
    return std::nullopt;
  }
  size_t pos = 0;
  double total_ms = 0;
  int last_rank = 100;  // units must appear in decreasing size, each once
  while (pos < text.size()) {
    double value = 0;
    if (!ReadNumber(text, &pos, &value)) {
      Fail(why, expected + ", got '" + std::string(text) + "'");
      return std::nullopt;
    }
    size_t ustart = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(ustart, pos - ustart);
    double scale = 0;
    int rank = 0;
    if (unit == "h") { scale = 3600000; rank = 4; }
    else if (unit == "m") { scale = 60000; rank = 3; }
    else if (unit == "s") { scale = 1000; rank = 2; }
    else if (unit == "ms") { scale = 1; rank = 1; }
    else if (unit.empty()) {
      Fail(why, expected + ", got '" + std::string(text) + "' (the unit is required)");
      return std::nullopt;
    } else {
      Fail(why, expected + ", got '" + std::string(text) + "' (unknown unit '" +
                    std::string(unit) + "'; units are ms, s, m, h)");
      return std::nullopt;
    }
    if (rank >= last_rank) {
      Fail(why, expected + ", got '" + std::string(text) + "' (units must go from largest to smallest, each once)");
      return std::nullopt;
    }
    last_rank = rank;
    total_ms += value * scale;
  }
  if (total_ms > 1e12) {
    Fail(why, expected + ", got '" + std::string(text) + "' (too long)");
    return std::nullopt;
  }
  return Millis(static_cast<long long>(std::llround(total_ms)));
}

std::string FormatDuration(Millis d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) { out = "-"; ms = -ms; }
  long long h = ms / 3600000; ms %= 3600000;
  long long m = ms / 60000; ms %= 60000;
  long long s = ms / 1000; ms %= 1000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  if (ms) out += std::to_string(ms) + "ms";
  return out;
}

std::optional<double> ParsePercent(std::string_view text, std::string* why) {
  const std::string expected = "expected a percentage between 0% and 100% such as 20% or 0.5%";
  size_t pos = 0;
  double value = 0;
  if (text.empty() || !ReadNumber(text, &pos, &value) || pos + 1 != text.size() || text[pos] != '%') {
    Fail(why, expected + ", got '" + std::string(text) + "'");
    return std::nullopt;
  }
  if (value > 100) {
    Fail(why, expected + ", got '" + std::string(text) + "' (more than 100%)");
    return std::nullopt;
  }
  return value / 100.0;
}

std::optional<unsigned long long> ParseBytes(std::string_view text, std::string* why) {
  const std::string expected = "expected a size such as 4096, 512KiB, 64MiB or 1G";
  size_t pos = 0;
  double value = 0;
  if (text.empty() || !ReadNumber(text, &pos, &value)) {
    Fail(why, expected + ", got '" + std::string(text) + "'");
    return std::nullopt;
  }
  std::string unit(text.substr(pos));
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") scale = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") scale = 1024.0 * 1024 * 1024 * 1024;
  else {
    Fail(why, expected + ", got '" + std::string(text) + "' (unknown unit)");
    return std::nullopt;
  }
  return static_cast<unsigned long long>(std::llround(value * scale));
}

}  // namespace faultline

// Strict parsing of the durations and percentages written in drills and inventories.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace faultline {

using Millis = std::chrono::milliseconds;

// Parses "250ms", "30s", "1m30s", "2h", "1h5m", "1.5s". Units: ms, s, m, h; each unit at
// most once, in decreasing order; a bare number is rejected (the unit is required);
// negative values are rejected. On failure returns nullopt and, if `why` is given,
// writes a sentence saying what was expected.
std::optional<Millis> ParseDuration(std::string_view text, std::string* why = nullptr);

// "1m30s", "250ms", "0s": the shortest form ParseDuration reads back to the same value.
std::string FormatDuration(Millis d);

// Parses "20%", "0.5%", "100%" into a fraction in [0, 1]. The percent sign is required.
std::optional<double> ParsePercent(std::string_view text, std::string* why = nullptr);

// Parses a byte size: "64MiB", "1G", "512k", "100B", "4096". Binary multiples for K/M/G/T
// with or without "iB". Used by disk.fill and lab mounts.
std::optional<unsigned long long> ParseBytes(std::string_view text, std::string* why = nullptr);

}  // namespace faultline

// Small string helpers shared by the parts.
#pragma once

#include <string>

namespace faultline {

// `s` without the line ends and spaces at its end (a command's output, a file's one line).
inline std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace faultline

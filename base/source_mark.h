// Where something was written: file, line and column (1-based), for every error message.
#pragma once

#include <string>

namespace faultline {

struct SourceMark {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  // "drills/f3.yaml:12:5", "drills/f3.yaml" when line is unknown, "" when nothing is known.
  std::string ToString() const {
    if (file.empty()) return "";
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column > 0 ? column : 1);
  }
};

}  // namespace faultline

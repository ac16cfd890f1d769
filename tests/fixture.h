// Reads a file under tests/fixtures/ for a unit test; an unreadable or empty fixture fails the
// test that asked for it, naming the file.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace faultline::testing {

inline std::string ReadFixture(const std::string& relative) {
  std::string root = __FILE__;  // <root>/tests/fixture.h
  root = root.substr(0, root.rfind('/'));
  std::string path = root + "/fixtures/" + relative;
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << path << ": missing or empty";
  return ss.str();
}

}  // namespace faultline::testing

// Runs every testdata/*.txt script and compares each command's output with the golden block
// under it. SIM_REWRITE=1 rewrites the files with what the code prints now (review the diff).
//
// File format: a command line, a line "----", its output up to the next empty line. Lines
// starting with '#' between blocks are comments and are kept on rewrite.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/sim/script_env.h"

namespace faultline::sim {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ScriptTest : public testing::TestWithParam<std::string> {};

TEST_P(ScriptTest, MatchesGoldenTrace) {
  const std::string path = std::string(SIM_TESTDATA) + "/" + GetParam();
  const bool rewrite = std::getenv("SIM_REWRITE") != nullptr;
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_FALSE(lines.empty()) << path << ": empty or unreadable";
  ScriptEnv env;
  std::ostringstream rewritten;
  size_t i = 0;
  while (i < lines.size()) {
    if (lines[i].empty() || lines[i][0] == '#') {
      rewritten << lines[i] << "\n";
      ++i;
      continue;
    }
    const size_t command_line = i + 1;
    const std::string command = lines[i++];
    ASSERT_TRUE(i < lines.size() && lines[i] == "----")
        << path << ":" << command_line + 1 << ": expected '----' after the command '" << command << "'";
    ++i;
    std::string expected;
    while (i < lines.size() && !lines[i].empty()) expected += lines[i++] + "\n";
    std::string actual = env.Run(command);
    rewritten << command << "\n----\n" << actual;
    if (!rewrite) {
      EXPECT_EQ(expected, actual) << path << ":" << command_line << ": output of '" << command
                                  << "' differs from the golden trace (SIM_REWRITE=1 to regenerate)";
    }
  }
  if (rewrite) {
    std::ofstream(path) << rewritten.str();
  }
}

std::vector<std::string> Scripts() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(SIM_TESTDATA)) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Testdata, ScriptTest, testing::ValuesIn(Scripts()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace faultline::sim

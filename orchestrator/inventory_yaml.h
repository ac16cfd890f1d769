// Small pieces shared by the drill parser and the inventory loaders: YAML values as JSON
// with the scalar typing each format promises, source marks from yaml-cpp, and the
// "did you mean" suggestion for unknown keys.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/source_mark.h"

namespace faultline {

enum class YamlTyping {
  kCore12,  // YAML 1.2 core schema: true/false, null, ints, floats; everything else a string
  kYaml11,  // YAML 1.1 as Ansible's PyYAML reads it: also yes/no/on/off are booleans
};

// Text of a plain scalar typed as the schema says (null, bool, int, float or string).
nlohmann::json TypePlainScalar(const std::string& text, YamlTyping typing);
// A plain (unquoted) scalar typed as the schema says; quoted scalars stay strings.
nlohmann::json YamlScalarToJson(const YAML::Node& node, YamlTyping typing);
// A whole node, recursively. Maps keep their keys as strings.
nlohmann::json YamlToJson(const YAML::Node& node, YamlTyping typing);

// yaml-cpp counts from 0; SourceMark from 1.
SourceMark MarkOf(const std::string& file, const YAML::Mark& mark);
SourceMark MarkOf(const std::string& file, const YAML::Node& node);

// Optimal string alignment distance (insertions, deletions, substitutions and swaps of
// two neighbours each cost one).
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible typo, else "".
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates);

// "unknown key 'withn' in expectation; did you mean 'within'?" or, with nothing close,
// "unknown key 'zzz' in expectation; expected one of: a, b, c".
std::string UnknownNameMessage(const std::string& what, const std::string& word,
                               const std::string& where,
                               const std::vector<std::string>& candidates);

// The mark of the first byte that is not valid UTF-8, or nullopt when the text is clean.
// Drills and inventories are refused with it: every value later lands in JSON journals.
std::optional<SourceMark> FirstInvalidUtf8(const std::string& text, const std::string& file);

// JSON text that never throws, whatever bytes a string holds.
std::string SafeDump(const nlohmann::json& v);

// "a, b, c"
std::string JoinNames(const std::vector<std::string>& names, const std::string& sep = ", ");

}  // namespace faultline

#include "orchestrator/inventory_yaml.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace faultline {
namespace {

bool IsNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

int BoolOf(const std::string& s, YamlTyping typing) {
  static const std::vector<std::string> kTrue12 = {"true", "True", "TRUE"};
  static const std::vector<std::string> kFalse12 = {"false", "False", "FALSE"};
  static const std::vector<std::string> kTrue11 = {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const std::vector<std::string> kFalse11 = {"no",  "No",  "NO", "off",
                                                    "Off", "OFF", "n",  "N"};
  auto in = [&](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  if (in(kTrue12)) return 1;
  if (in(kFalse12)) return 0;
  if (typing == YamlTyping::kYaml11) {
    if (in(kTrue11)) return 1;
    if (in(kFalse11)) return 0;
  }
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [-+]?(0|[1-9][0-9]*)
bool IsInt(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size()) return false;
  if (s[i] == '0') return i + 1 == s.size();
  for (size_t j = i; j < s.size(); ++j) {
    if (!IsDigit(s[j])) return false;
  }
  return true;
}

// [-+]?(digits.digits*|.digits|digits)([eE][-+]?digits)? with at least one '.' or exponent
bool IsFloat(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  bool dot = false, exp = false;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    exp = true;
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t e = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++e;
    if (e == 0) return false;
  }
  return i == s.size() && (dot || exp);
}

}  // namespace

nlohmann::json YamlScalarToJson(const YAML::Node& node, YamlTyping typing) {
  // yaml-cpp tags quoted scalars "!" and plain ones "?": only plain scalars are typed.
  if (node.Tag() != "?") return node.Scalar();
  return TypePlainScalar(node.Scalar(), typing);
}

nlohmann::json TypePlainScalar(const std::string& s, YamlTyping typing) {
  if (IsNull(s)) return nullptr;
  if (int b = BoolOf(s, typing); b >= 0) return b == 1;
  if (IsInt(s)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return v;
    return s;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && std::all_of(s.begin() + 2, s.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c));
      })) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 16);
    if (errno == 0) return v;
    return s;
  }
  if (IsFloat(s)) return std::strtod(s.c_str(), nullptr);
  return s;
}

nlohmann::json YamlToJson(const YAML::Node& node, YamlTyping typing) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return YamlScalarToJson(node, typing);
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(YamlToJson(item, typing));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) {
        std::string key =
            kv.first.IsScalar() ? kv.first.Scalar() : SafeDump(YamlToJson(kv.first, typing));
        obj[key] = YamlToJson(kv.second, typing);
      }
      return obj;
    }
  }
  return nullptr;
}

SourceMark MarkOf(const std::string& file, const YAML::Mark& mark) {
  SourceMark m;
  m.file = file;
  if (mark.line >= 0) {
    m.line = mark.line + 1;
    m.column = mark.column + 1;
  }
  return m;
}

SourceMark MarkOf(const std::string& file, const YAML::Node& node) {
  return MarkOf(file, node.Mark());
}

int EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string NearestName(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 30;
  for (const auto& c : candidates) {
    int d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (best.empty()) return "";
  // A suggestion is only helpful when most of the word survives: at most a third of the
  // longer name may differ (and always allow one edit for short names).
  size_t longer = std::max(word.size(), best.size());
  if (best_d <= 1 || static_cast<size_t>(best_d) * 3 <= longer) return best;
  // A shortened name ("child" for "children") is a typo too.
  for (const auto& c : candidates) {
    if (word.size() >= 3 && c.size() > word.size() && c.compare(0, word.size(), word) == 0)
      return c;
  }
  return "";
}

std::string JoinNames(const std::vector<std::string>& names, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += sep;
    out += names[i];
  }
  return out;
}

std::string UnknownNameMessage(const std::string& what, const std::string& word,
                               const std::string& where,
                               const std::vector<std::string>& candidates) {
  std::string msg = "unknown " + what + " '" + word + "'";
  if (!where.empty()) msg += " in " + where;
  std::string near = NearestName(word, candidates);
  if (!near.empty()) return msg + "; did you mean '" + near + "'?";
  if (candidates.empty()) return msg;
  return msg + "; expected one of: " + JoinNames(candidates);
}

std::optional<SourceMark> FirstInvalidUtf8(const std::string& text, const std::string& file) {
  int line = 1, col = 1;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // no overlong forms
    if (ok && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (!ok) {
      SourceMark m;
      m.file = file;
      m.line = line;
      m.column = col;
      return m;
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += len;
  }
  return std::nullopt;
}

std::string SafeDump(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace faultline

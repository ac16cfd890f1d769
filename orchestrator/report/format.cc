#include "orchestrator/report/format.h"

#include <cmath>
#include <cstdio>

namespace faultline::report {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at s[i], or 0 if there is none (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

std::string Escape(std::string_view text, bool keep_whitespace) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n > 1) {
      // U+FFFE and U+FFFF are not XML characters either.
      std::string_view seq = text.substr(i, n);
      if (seq == "\xEF\xBF\xBE" || seq == "\xEF\xBF\xBF") {
        out += kReplacement;
      } else {
        out += seq;
      }
      i += n;
      continue;
    }
    char c = text[i++];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\n': out += keep_whitespace ? "\n" : "&#10;"; break;
      case '\r': out += "&#13;"; break;
      case '\t': out += keep_whitespace ? "\t" : "&#9;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += kReplacement;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string FormatSeconds(double ms) {
  char buf[64];
  double s = std::fabs(ms) / 1000.0;
  if (s < 60.0) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    // 59.96 s rounds to "60.0s"; say it the long way round instead.
    if (std::string_view(buf) != "60.0s") return buf;
  }
  long long tenths = std::llround(s * 10.0);
  long long minutes = tenths / 600;
  double rest = static_cast<double>(tenths % 600) / 10.0;
  if (minutes >= 60) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%04.1fs", minutes / 60, minutes % 60, rest);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%04.1fs", minutes, rest);
  }
  return buf;
}

}  // namespace

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out += text.substr(i, n);
      i += n;
    }
  }
  return out;
}

std::string XmlEscape(std::string_view text) { return Escape(text, false); }
std::string XmlEscapeText(std::string_view text) { return Escape(text, true); }

std::string FormatOffset(double ms) {
  if (!std::isfinite(ms)) return "?";
  return (ms < 0 ? "-" : "+") + FormatSeconds(ms);
}

std::string FormatSpan(double ms) {
  if (!std::isfinite(ms)) return "?";
  if (std::fabs(ms) < 1000.0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
    return buf;
  }
  return (ms < 0 ? "-" : "") + FormatSeconds(ms);
}

size_t DisplayWidth(std::string_view utf8) {
  size_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string VerdictMessage(const JournalVerdict& v) {
  if (!v.message.empty()) return v.message;
  std::string out = "expected " + (v.expected.empty() ? v.id : v.expected);
  out += "; observed " + (v.observed.empty() ? std::string("nothing") : v.observed);
  return out;
}

bool AllReverted(const Journal& journal) {
  if (!journal.leftovers.empty()) return false;
  for (const auto& f : journal.faults) {
    if (!f.reverted) return false;
  }
  return true;
}

std::string FileSafeName(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
    out += keep ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "drill" + out;
  return out;
}

}  // namespace faultline::report

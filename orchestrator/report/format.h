// Text helpers shared by the report writers: escaping for XML and HTML, times as an operator
// reads them, and the one sentence a failed expectation is summed up by.
#pragma once

#include <string>
#include <string_view>

#include "orchestrator/journal.h"

namespace faultline::report {

// Replaces every byte sequence that is not well-formed UTF-8 with U+FFFD, so that probe
// output and command errors (arbitrary bytes) can go into XML, HTML and JSON unharmed.
std::string SanitizeUtf8(std::string_view text);

// Escapes for XML/HTML text and attribute values alike: & < > " ' become entities; tab,
// newline and carriage return become character references (kept inside attributes, where a
// parser would otherwise fold them to spaces); other control characters, which XML 1.0
// forbids, become U+FFFD. Input is sanitized as by SanitizeUtf8.
std::string XmlEscape(std::string_view text);

// Like XmlEscape but keeps newlines and tabs as they are: for element text, where they are
// legal and a reader wants to see the lines.
std::string XmlEscapeText(std::string_view text);

// "+4.2s", "+2m05.3s": a time since the run's start (t = 0), as in the journal.
std::string FormatOffset(double ms);

// "4.2s", "2m05.3s", "350ms": a span (a recovery time, a duration).
std::string FormatSpan(double ms);

// The number of terminal columns a UTF-8 string takes (one per code point: enough for the
// symbols faultline writes, "≠", "≤", "→", "×").
size_t DisplayWidth(std::string_view utf8);

// The message of a verdict: its own `message` if set, else "expected <expected>; observed
// <observed>" (the JUnit failure message and the console line).
std::string VerdictMessage(const JournalVerdict& verdict);

// Whether every fault of the journal was reverted and nothing was left behind.
bool AllReverted(const Journal& journal);

// A drill name usable as a file name: letters, digits, '-', '_' and '.' kept, others '_'.
std::string FileSafeName(std::string_view name);

}  // namespace faultline::report

// The one place where an argument vector becomes shell text.
//
// Every command that crosses a transport is an argv; a remote shell (ssh exec) only ever
// sees ShellJoin(argv), so no drill or inventory value reaches a shell unquoted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace faultline {

// Single-quotes `arg` for a POSIX shell unless it is made only of safe characters.
std::string ShellQuote(std::string_view arg);

// Quotes each element and joins them with spaces.
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace faultline

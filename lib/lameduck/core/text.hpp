#pragma once

// Text read from outside (a mounted Secret, a file written by `echo`, an error body) arrives
// with line ends and blanks around what matters. Two trims, for two different needs.

#include <string>

namespace lameduck {

// Without leading and trailing spaces, tabs and line ends: for names, ids, tokens, addresses.
std::string trim_blanks(std::string text);

// Without trailing line ends only: for a password, whose spaces may be part of it, and for a
// peer's message, whose inner layout is kept.
std::string trim_line_ends(std::string text);

} // namespace lameduck

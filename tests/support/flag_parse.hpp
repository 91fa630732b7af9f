#pragma once

// A tool's command line parsed in-process, as its main() parses it: the exit code it would end
// with now (none when it would go on) and what it would print.

#include "cli/cli.hpp"

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace lameduck::test {

struct FlagParse {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

// `parse_flags` is one of cli::parse_<tool>_flags; `arguments` come after the tool's name.
template <typename Options, typename Parser>
FlagParse parse_flags(Parser parse_flags, const std::string& tool, const std::vector<std::string>& arguments,
                      Options& options) {
  std::vector<const char*> argv{tool.c_str()};
  for (const auto& argument : arguments) {
    argv.push_back(argument.c_str());
  }
  cli::LoggingOptions logging;
  std::ostringstream out;
  std::ostringstream err;
  FlagParse parsed;
  parsed.exit_code = parse_flags(static_cast<int>(argv.size()), argv.data(), options, logging, out, err);
  parsed.out = out.str();
  parsed.err = err.str();
  return parsed;
}

} // namespace lameduck::test

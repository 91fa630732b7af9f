#pragma once

// readyz-toggle's command line (contract §3): its subcommands and every flag, with its unit,
// default and variable.

#include "cli/cli.hpp"
#include "lameduck/readiness/readyz_toggle.hpp"

namespace lameduck::cli {

// Fills `options` (the subcommand included) and `logging` from the command line and
// LAMEDUCK_<FLAG>; returns the exit code to end with now, as parse() does.
std::optional<int> parse_readyz_toggle_flags(int argc, const char* const* argv, ReadyzToggleOptions& options,
                                             LoggingOptions& logging, std::ostream& out = std::cout,
                                             std::ostream& err = std::cerr);

} // namespace lameduck::cli

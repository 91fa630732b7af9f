#pragma once

// prestop's command line (contract §5): every flag, with its unit, default and variable.

#include "cli/cli.hpp"
#include "lameduck/prestop/prestop_options.hpp"

namespace lameduck::cli {

// Fills `options` and `logging` from the command line and LAMEDUCK_<FLAG>; returns the exit
// code to end with now, as parse() does.
std::optional<int> parse_prestop_flags(int argc, const char* const* argv, PrestopOptions& options,
                                       LoggingOptions& logging, std::ostream& out = std::cout,
                                       std::ostream& err = std::cerr);

} // namespace lameduck::cli

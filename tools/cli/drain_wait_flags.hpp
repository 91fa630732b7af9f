#pragma once

// drain-wait's command line (contract §4): every flag, with its unit, default and variable.

#include "cli/cli.hpp"
#include "lameduck/drain/drain_wait.hpp"

namespace lameduck::cli {

// Fills `options` and `logging` from the command line and LAMEDUCK_<FLAG>; returns the exit
// code to end with now, as parse() does.
std::optional<int> parse_drain_wait_flags(int argc, const char* const* argv, DrainWaitOptions& options,
                                          LoggingOptions& logging, std::ostream& out = std::cout,
                                          std::ostream& err = std::cerr);

} // namespace lameduck::cli

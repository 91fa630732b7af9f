#pragma once

// lameduck's command line: the workstation and CI tool, `lameduck lint [FILE|DIR|-]...`
// (also run by kubectl as the plugin kubectl-lameduck).

#include "cli/cli.hpp"
#include "lameduck/lint/lint_command.hpp"

namespace lameduck::cli {

// Fills `options` from the command line and LAMEDUCK_<FLAG>; returns the exit code to end with
// now, as parse() does.
std::optional<int> parse_lameduck_flags(int argc, const char* const* argv, lint::LintOptions& options,
                                        std::ostream& out = std::cout, std::ostream& err = std::cerr);

} // namespace lameduck::cli

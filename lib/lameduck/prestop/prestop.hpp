#pragma once

// prestop's body, behind its thin main (contract §5).

#include "lameduck/core/environment.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/prestop/prestop_options.hpp"
#include "lameduck/prestop/termination_deadline.hpp"

namespace lameduck {

// Returns the exit code.
int run_prestop(const PrestopOptions& options, const Environment& environment, const Logger& logger,
                const TerminationClocks& started);

} // namespace lameduck

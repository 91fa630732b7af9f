#include "lameduck/prestop.hpp"

#include "lameduck/exit_code.hpp"
#include "lameduck/phase_plan.hpp"

#include <iostream>

namespace lameduck {

int run_prestop(const PrestopOptions& options, const Environment&, const Logger& logger,
                const TerminationClocks& started) {
  const TerminationDeadline deadline = termination_deadline(started, options.grace_period, options.margin, std::nullopt);
  if (options.plan) {
    std::cout << describe_plan(plan_phases(deadline.budget, options), options, deadline.source);
    return exit_code::k_ok;
  }
  // The sequence needs the EndpointSlice watch, which is not built yet; until it is, prestop
  // refuses to run rather than pretend.
  logger.error("prestop.unavailable", "only --plan is implemented in this version");
  return exit_code::k_usage;
}

} // namespace lameduck

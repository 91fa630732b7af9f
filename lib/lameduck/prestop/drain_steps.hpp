#pragma once

// prestop's drain phase as an ordered list of steps (contract §5): the agent's drain URL,
// sidecars that speak the protocol, servers stopped by a signal, commands. Each step gets its
// own deadline: its @timeout, or a share of what is left (what the later steps' timeouts do not
// claim, split between the steps without one); what a step does not use goes to the steps after
// it, and a step that gives up does not stop them.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_flags.hpp"
#include "lameduck/drain/drain_step.hpp"
#include "lameduck/prestop/prestop_options.hpp"
#include "lameduck/prestop/termination_report.hpp"

#include <string>
#include <vector>

namespace lameduck {

// --drain-url and --drain-step as one list in command-line order; a PrestopOptions with only
// drain.drain_url set (as before steps) gives that one URL step.
std::vector<DrainStep> drain_steps_of(const PrestopOptions& options);

// What step `index` may use when `left` remains for it and the steps after it.
Duration step_share(const std::vector<DrainStep>& steps, std::size_t index, Duration left);

// The drain client's options for a URL step: the first URL step is the agent's and takes
// --status-url and --connections-port; every URL step takes --poll-interval and --if-missing.
Expected<DrainClientOptions> url_step_client(const DrainStep& step, bool first_url, const DrainFlags& flags,
                                             const std::string& termination_id);

struct DrainPhaseOutcome {
  PhaseOutcome outcome = PhaseOutcome::skipped;
  std::string reason;
  LogFields details = LogFields::object(); // "drain" (the first URL step's outcome) and "steps"
};

DrainPhaseOutcome run_drain_steps(const std::vector<DrainStep>& steps, const DrainFlags& flags,
                                  const std::string& termination_id, const Deadline& deadline, const Logger& logger);

} // namespace lameduck

#pragma once

// How prestop shares its one budget between the phases, and the --plan text that shows it.
// Deregistration gets up to --deregister-timeout; the endpoints phase may use half of what is
// left unless --endpoints-timeout says otherwise; the quiet phase half of what is left after
// that and --min-delay unless --quiet-timeout says otherwise; so the drain always keeps the
// rest: losing in-flight work costs more than a late deregistration or a late load balancer.

#include "lameduck/core/duration.hpp"
#include "lameduck/prestop/prestop_options.hpp"

#include <string>

namespace lameduck {

// The readiness switch is a loopback call; anything slower than this is a dead sidecar.
inline constexpr Duration k_readiness_budget = std::chrono::seconds{1};

struct PhasePlan {
  Duration budget{0};    // start to deadline
  Duration readiness{0}; // cap of phase 1
  Duration deregister{0}; // cap of the deregister phase (zero when no registry is named)
  Duration endpoints{0}; // cap of phase 2's watch, or of its fallback wait
  Duration quiet{0};     // cap of the quiet phase after --min-delay (zero when --until-quiet is 0)
  Duration drain{0};     // what phase 3 keeps at least, when the phases before use their caps
};

PhasePlan plan_phases(Duration budget, const PrestopOptions& options);

// The quiet phase's cap when `left` is what remains for it and the drain: --quiet-timeout, or half.
Duration quiet_cap(Duration left, const PrestopOptions& options);

// The --plan output: the deadline and each phase's budget, one line each.
std::string describe_plan(const PhasePlan& plan, const PrestopOptions& options, const std::string& deadline_source);

} // namespace lameduck

#include "lameduck/prestop/phase_plan.hpp"

#include "lameduck/prestop/drain_steps.hpp"

#include <algorithm>

namespace lameduck {

Duration quiet_cap(Duration left, const PrestopOptions& options) {
  return std::max(options.quiet_timeout.value_or(left / 2), Duration::zero());
}

PhasePlan plan_phases(Duration budget, const PrestopOptions& options) {
  PhasePlan plan;
  plan.budget = std::max(budget, Duration::zero());
  Duration left = plan.budget;
  plan.readiness = options.readyz_url.empty() ? Duration::zero() : std::min(k_readiness_budget, left);
  left -= plan.readiness;
  plan.deregister = options.deregistration.configured() ? std::min(options.deregister_timeout, left / 2) : Duration::zero();
  left -= plan.deregister;
  plan.endpoints = std::min(options.endpoints_timeout.value_or((plan.budget - plan.deregister) / 2), left);
  left -= plan.endpoints;
  left -= std::min(options.min_delay, left);
  plan.quiet = options.until_quiet > Duration::zero() ? std::min(quiet_cap(left, options), left) : Duration::zero();
  left -= plan.quiet;
  plan.drain = drain_steps_of(options).empty() ? Duration::zero() : left;
  return plan;
}

std::string describe_plan(const PhasePlan& plan, const PrestopOptions& options, const std::string& deadline_source) {
  std::string out = "prestop plan: deadline " + format_duration(plan.budget) + " after start (" +
                    format_duration(options.grace_period) + " grace period - " + format_duration(options.margin) +
                    " margin";
  out += deadline_source == "deletionTimestamp" ? ", shortened by the pod's deletionTimestamp)\n"
                                                : "; an earlier deletionTimestamp shortens it)\n";

  out += "  1 readiness  ";
  out += options.readyz_url.empty() ? "skipped (no --readyz-url)\n"
                                    : "up to " + format_duration(plan.readiness) + ": POST " + options.readyz_url +
                                          "/readyz/disable\n";

  if (options.deregistration.configured()) {
    out += "  1b deregister up to " + format_duration(plan.deregister) + ":";
    const auto& etcd = options.deregistration.etcd;
    if (!etcd.endpoints.empty()) {
      out += " etcd: revoke the lease at " + std::to_string(etcd.lease_keys.size()) + " key(s), delete " +
             std::to_string(etcd.keys.size()) + " key(s);";
    }
    if (!options.deregistration.http.url.empty()) {
      out += " " + options.deregistration.http.method + " " + options.deregistration.http.url + ";";
    }
    out.back() = '\n';
  }

  std::string scope = "every slice in the namespace that lists this pod";
  if (!options.services.empty()) {
    scope = "the slices of service";
    scope += options.services.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < options.services.size(); ++i) {
      scope += (i > 0 ? ", " : "") + options.services[i];
    }
  }
  const bool quiet = options.until_quiet > Duration::zero();
  out += "  2 endpoints  up to " + format_duration(plan.endpoints) + ": watch " + scope + " until this pod is not ready" +
         (quiet ? "" : ", then " + format_duration(options.min_delay) + " for consumers") + "; without the API, " +
         format_duration(options.fallback_delay) + " instead\n";

  if (quiet) {
    std::string ports = "the pod's containerPorts";
    if (!options.quiet_ports.empty()) {
      ports = "port";
      ports += options.quiet_ports.size() > 1 ? "s " : " ";
      for (std::size_t i = 0; i < options.quiet_ports.size(); ++i) {
        ports += (i > 0 ? ", " : "") + std::to_string(options.quiet_ports[i]);
      }
    }
    out += "  2b quiet     " + format_duration(options.min_delay) + " (--min-delay), then up to " +
           format_duration(plan.quiet) + " more: until " + ports + " had no new connection and no new byte for " +
           format_duration(options.until_quiet) + "\n";
  }

  out += "  3 drain      ";
  const auto steps = drain_steps_of(options);
  if (steps.empty()) {
    out += "skipped (no --drain-url or --drain-step)\n";
  } else if (steps.size() == 1 && steps.front().kind == DrainStepKind::url && !steps.front().timeout) {
    out += "at least " + format_duration(plan.drain) + ": POST " + steps.front().url +
           ", then wait until the agent reports flushed\n";
  } else {
    out += "at least " + format_duration(plan.drain) + ", in " + std::to_string(steps.size()) +
           " steps, each with its timeout or a share of what is left:\n";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const auto& step = steps[i];
      out += "    " + std::to_string(i + 1) + ". " + (step.timeout ? "up to " + format_duration(*step.timeout) + ": " : "");
      switch (step.kind) {
      case DrainStepKind::url:
        out += "POST " + step.url + ", then wait until it reports flushed\n";
        break;
      case DrainStepKind::signal:
        out += "SIG" + step.signal_name + " to " + drain_step_target(step) +
               ", then wait until it has exited or closed its listeners and connections\n";
        break;
      case DrainStepKind::exec:
        out += "run " + drain_step_target(step) + " until it exits 0\n";
        break;
      }
    }
  }

  out += "  4 report     summary to stderr, /proc/1/fd/1";
  out += options.termination_log.empty() ? "" : " and " + options.termination_log;
  out += options.event ? ", and an Event on the pod" : "";
  out += options.notify_url.empty() ? "\n" : "; POST it to " + options.notify_url + "\n";
  return out;
}

} // namespace lameduck

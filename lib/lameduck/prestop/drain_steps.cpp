#include "lameduck/prestop/drain_steps.hpp"

#include "lameduck/drain/exec_step.hpp"
#include "lameduck/drain/signal_step.hpp"

#include <algorithm>

namespace lameduck {

namespace {

PhaseOutcome phase_outcome_of(StepOutcome outcome) {
  switch (outcome) {
  case StepOutcome::done:
    return PhaseOutcome::done;
  case StepOutcome::skipped:
    return PhaseOutcome::skipped;
  case StepOutcome::gave_up:
    return PhaseOutcome::gave_up;
  }
  return PhaseOutcome::gave_up;
}

struct UrlStepResult {
  StepResult result;
  DrainOutcome drain = DrainOutcome::gave_up;
};

UrlStepResult run_url_step(const DrainStep& step, bool first_url, const DrainFlags& flags,
                           const std::string& termination_id, const Deadline& deadline, const Logger& logger) {
  const auto client = url_step_client(step, first_url, flags, termination_id);
  if (!client) {
    return {{StepOutcome::gave_up, client.error().message, LogFields::object()}, DrainOutcome::gave_up};
  }
  const DrainResult drained = drain_and_wait(*client, deadline, logger);
  const LogFields details{{"drain", drain_outcome_name(drained.outcome)}};
  switch (drained.outcome) {
  case DrainOutcome::flushed:
    return {{StepOutcome::done, drained.reason, details}, drained.outcome};
  case DrainOutcome::missing:
    return {{StepOutcome::skipped, drained.reason, details}, drained.outcome};
  case DrainOutcome::gave_up:
    break;
  }
  return {{StepOutcome::gave_up, drained.reason, details}, drained.outcome};
}

} // namespace

std::vector<DrainStep> drain_steps_of(const PrestopOptions& options) {
  if (!options.drain_steps.empty()) {
    return options.drain_steps;
  }
  if (options.drain.drain_url.empty()) {
    return {};
  }
  DrainStep agent;
  agent.url = options.drain.drain_url;
  return {agent};
}

Duration step_share(const std::vector<DrainStep>& steps, std::size_t index, Duration left) {
  const DrainStep& step = steps.at(index);
  if (step.timeout) {
    return std::min(*step.timeout, left);
  }
  Duration claimed{0};
  long long untimed = 0;
  for (std::size_t later = index; later < steps.size(); ++later) {
    if (steps[later].timeout) {
      claimed += *steps[later].timeout;
    } else {
      ++untimed;
    }
  }
  // Later timeouts that claim everything still leave this step its plain share.
  const Duration unclaimed = left > claimed ? left - claimed : Duration::zero();
  const Duration share = unclaimed / untimed;
  if (share > Duration::zero()) {
    return share;
  }
  return left / static_cast<long long>(steps.size() - index);
}

Expected<DrainClientOptions> url_step_client(const DrainStep& step, bool first_url, const DrainFlags& flags,
                                             const std::string& termination_id) {
  DrainFlags own = flags;
  own.drain_url = step.url;
  if (!first_url) {
    // A sidecar's drain endpoint answers its own status; the connections counted are the agent's.
    own.status_url.clear();
    own.connections_ports.clear();
  }
  return drain_client_options(own, termination_id);
}

DrainPhaseOutcome run_drain_steps(const std::vector<DrainStep>& steps, const DrainFlags& flags,
                                  const std::string& termination_id, const Deadline& deadline, const Logger& logger) {
  DrainPhaseOutcome phase;
  LogFields entries = LogFields::array();
  std::vector<StepOutcome> outcomes;
  bool first_url = true;
  for (std::size_t index = 0; index < steps.size(); ++index) {
    const DrainStep& step = steps[index];
    const auto started = Clock::now();
    const Duration budget = step_share(steps, index, deadline.remaining(started));
    const Deadline step_deadline = deadline.within(budget, started);
    const std::string kind(drain_step_kind_name(step.kind));
    const std::string target = drain_step_target(step);
    logger.info("step.started", "drain step " + std::to_string(index + 1) + " of " + std::to_string(steps.size()),
                {{"phase", "drain"}, {"kind", kind}, {"target", target}, {"budget_ms", to_ms(budget)}});
    StepResult result;
    switch (step.kind) {
    case DrainStepKind::url: {
      const auto url = run_url_step(step, first_url, flags, termination_id, step_deadline, logger);
      if (first_url) {
        phase.details["drain"] = drain_outcome_name(url.drain);
      }
      first_url = false;
      result = url.result;
      break;
    }
    case DrainStepKind::signal:
      result = run_signal_step(step, step_deadline, logger);
      break;
    case DrainStepKind::exec:
      result = run_exec_step(step, step_deadline, logger);
      break;
    }
    const auto took = Clock::now() - started;
    LogFields entry{{"kind", kind},
                    {"target", target},
                    {"outcome", phase_outcome_name(phase_outcome_of(result.outcome))},
                    {"ms", to_ms(took)},
                    {"budgetMs", to_ms(budget)},
                    {"reason", result.reason}};
    for (const auto& [key, value] : result.details.items()) {
      if (!entry.contains(key)) {
        entry[key] = value;
      }
    }
    const LogFields log_fields{{"phase", "drain"}, {"kind", kind}, {"target", target}, {"ms", to_ms(took)}};
    if (result.outcome == StepOutcome::gave_up) {
      logger.warn("step.gave_up", result.reason, log_fields);
    } else {
      logger.info(result.outcome == StepOutcome::done ? "step.done" : "step.skipped", result.reason, log_fields);
    }
    phase.reason += (phase.reason.empty() ? "" : "; ") +
                    (steps.size() == 1 ? result.reason : kind + " " + target + ": " + result.reason);
    outcomes.push_back(result.outcome);
    entries.push_back(std::move(entry));
  }
  phase.details["steps"] = std::move(entries);
  const auto any = [&](StepOutcome wanted) { return std::find(outcomes.begin(), outcomes.end(), wanted) != outcomes.end(); };
  phase.outcome = any(StepOutcome::gave_up) ? PhaseOutcome::gave_up
                  : any(StepOutcome::done)  ? PhaseOutcome::done
                                            : PhaseOutcome::skipped;
  return phase;
}

} // namespace lameduck

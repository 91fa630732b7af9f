#include "lameduck/drain/drain_wait.hpp"

#include "lameduck/core/exit_code.hpp"

namespace lameduck {

namespace {

// Kept back from --timeout for logging and exiting, so the process is gone before it even on a
// loaded node (or with a sanitized build's exit-time leak check).
constexpr auto k_exit_reserve = std::chrono::milliseconds{100};

} // namespace

int run_drain_wait(const DrainWaitOptions& options, const Environment& environment, const Logger& logger,
                   Clock::time_point started) {
  const Deadline deadline = Deadline::at(started + options.timeout - std::min<Duration>(k_exit_reserve, options.timeout));
  const auto id = resolve_termination_id(options.termination_id, environment("POD_UID").value_or(""), options.state_dir);
  if (!id) {
    logger.error("config.invalid", "no termination id: " + id.error().message);
    return exit_code::k_usage;
  }
  const auto client = drain_client_options(options.drain, *id);
  if (!client) {
    logger.error("config.invalid", client.error().message);
    return exit_code::k_usage;
  }

  const DrainResult result = drain_and_wait(*client, deadline, logger);
  const LogFields fields{{"outcome", drain_outcome_name(result.outcome)},
                         {"ms", to_ms(Clock::now() - started)},
                         {"termination_id", client->termination_id}};
  if (result.outcome == DrainOutcome::gave_up) {
    logger.error("drain.gave_up", result.reason, fields);
    return exit_code::k_gave_up;
  }
  logger.info("drain.done", result.reason, fields);
  return exit_code::k_ok;
}

} // namespace lameduck

#include "lameduck/drain_wait.hpp"

#include "lameduck/exit_code.hpp"
#include "lameduck/termination_id.hpp"

namespace lameduck {

namespace {

// Kept back from --timeout for logging and exiting, so the process is gone before it.
constexpr auto k_exit_reserve = std::chrono::milliseconds{15};

long long whole_ms(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

} // namespace

int run_drain_wait(const DrainWaitOptions& options, const Environment& environment, const Logger& logger,
                   Clock::time_point started) {
  const Deadline deadline = Deadline::at(started + options.timeout - std::min<Duration>(k_exit_reserve, options.timeout));
  DrainClientOptions client;
  const auto drain_url = parse_url(options.drain_url);
  if (!drain_url) {
    logger.error("config.invalid", "--drain-url: " + drain_url.error().message);
    return exit_code::k_usage;
  }
  client.drain_url = *drain_url;
  if (!options.status_url.empty()) {
    const auto status_url = parse_url(options.status_url);
    if (!status_url) {
      logger.error("config.invalid", "--status-url: " + status_url.error().message);
      return exit_code::k_usage;
    }
    client.status_url = *status_url;
  }
  const auto id = resolve_termination_id(options.termination_id, environment("POD_UID").value_or(""), options.state_dir);
  if (!id) {
    logger.error("config.invalid", "no termination id: " + id.error().message);
    return exit_code::k_usage;
  }
  client.termination_id = *id;
  client.poll_interval = options.poll_interval;
  client.fail_if_missing = options.fail_if_missing;
  client.connections_ports = options.connections_ports;

  const DrainResult result = drain_and_wait(client, deadline, logger);
  const LogFields fields{{"outcome", drain_outcome_name(result.outcome)},
                         {"ms", whole_ms(Clock::now() - started)},
                         {"termination_id", client.termination_id}};
  if (result.outcome == DrainOutcome::gave_up) {
    logger.error("drain.gave_up", result.reason, fields);
    return exit_code::k_gave_up;
  }
  logger.info("drain.done", result.reason, fields);
  return exit_code::k_ok;
}

} // namespace lameduck

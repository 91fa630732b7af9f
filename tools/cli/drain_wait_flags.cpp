#include "cli/drain_wait_flags.hpp"

namespace lameduck::cli {

std::optional<int> parse_drain_wait_flags(int argc, const char* const* argv, DrainWaitOptions& options,
                                          LoggingOptions& logging, std::ostream& out, std::ostream& err) {
  const auto app = make_app("drain-wait", "Ask the agent to drain, then wait until it reports its state flushed.");
  add_logging_options(*app, logging);
  add_drain_flags(*app, options.drain, "The agent's drain endpoint (POST)")->required();
  add_duration(*app, "--timeout", options.timeout, "Everything is over within this");
  app->add_option("--termination-id", options.termination_id,
                  "Sent as Idempotency-Key; default: POD_UID, else a random id kept in --state-dir")
      ->type_name("ID");
  app->add_option("--state-dir", options.state_dir, "Where a random termination id is kept between deliveries")
      ->type_name("DIR")
      ->default_str(k_default_state_dir);

  bind_environment(*app);
  return parse(*app, argc, argv, out, err);
}

} // namespace lameduck::cli

// drain-wait: the drain protocol, client side (contract §4).

#include "lameduck/cli.hpp"
#include "lameduck/drain_wait.hpp"
#include "lameduck/signals.hpp"


int main(int argc, char* argv[]) {
  // Before anything can open a socket: a peer that hangs up must cost an error return, not the process.
  lameduck::ignore_sigpipe();
  using namespace lameduck;
  const auto started = Clock::now();
  DrainWaitOptions options;

  const auto app = cli::make_app("drain-wait", "Ask the agent to drain, then wait until it reports its state flushed.");
  cli::LoggingOptions logging;
  cli::add_logging_options(*app, logging);
  cli::add_drain_flags(*app, options.drain, "The agent's drain endpoint (POST)")->required();
  cli::add_duration(*app, "--timeout", options.timeout, "Everything is over within this");
  app->add_option("--termination-id", options.termination_id,
                  "Sent as Idempotency-Key; default: POD_UID, else a random id kept in --state-dir")
      ->type_name("ID");
  app->add_option("--state-dir", options.state_dir, "Where a random termination id is kept between deliveries")
      ->type_name("DIR")
      ->default_str(k_default_state_dir);

  cli::bind_environment(*app);
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("drain-wait", logging);
  return cli::run_guarded("drain-wait",
                          [&] { return run_drain_wait(options, process_environment(), logger, started); });
}

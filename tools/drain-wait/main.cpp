// drain-wait: the drain protocol, client side (contract §4).

#include "cli/drain_wait_flags.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/drain/drain_wait.hpp"

int main(int argc, char* argv[]) {
  // Before anything can open a socket: a peer that hangs up must cost an error return, not the process.
  lameduck::ignore_sigpipe();
  using namespace lameduck;
  const auto started = Clock::now();
  DrainWaitOptions options;
  cli::LoggingOptions logging;
  if (const auto exit_now = cli::parse_drain_wait_flags(argc, argv, options, logging)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("drain-wait", logging);
  return cli::run_guarded("drain-wait",
                          [&] { return run_drain_wait(options, process_environment(), logger, started); });
}

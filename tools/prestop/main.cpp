// prestop: the whole preStop sequence under one deadline (contract §5).

#include "cli/prestop_flags.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/prestop/prestop.hpp"

int main(int argc, char* argv[]) {
  // Before anything can open a socket: a peer that hangs up must cost an error return, not the process.
  lameduck::ignore_sigpipe();
  using namespace lameduck;
  const TerminationClocks started{.steady = Clock::now(), .wall = WallClock::now()};
  PrestopOptions options;
  cli::LoggingOptions logging;
  if (const auto exit_now = cli::parse_prestop_flags(argc, argv, options, logging)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("prestop", logging);
  return cli::run_guarded("prestop", [&] { return run_prestop(options, process_environment(), logger, started); });
}

// readyz-toggle: the pod's readiness endpoint and its switch (contract §3).

#include "cli/readyz_toggle_flags.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/readiness/readyz_toggle.hpp"

int main(int argc, char* argv[]) {
  // Before anything can open a socket: a peer that hangs up must cost an error return, not the process.
  lameduck::ignore_sigpipe();
  using namespace lameduck;
  ReadyzToggleOptions options;
  cli::LoggingOptions logging;
  if (const auto exit_now = cli::parse_readyz_toggle_flags(argc, argv, options, logging)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("readyz-toggle", logging);
  return cli::run_guarded("readyz-toggle", [&] { return run_readyz_toggle(options, logger); });
}

// lameduck: the workstation and CI tool (contract §7): `lameduck lint`, also run by kubectl as
// the plugin kubectl-lameduck (`kubectl lameduck lint`).

#include "cli/lameduck_flags.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/lint/lint_command.hpp"

int main(int argc, char* argv[]) {
  // A reader that hangs up (`lameduck lint x | head`) must cost a failed write, not the process.
  lameduck::ignore_sigpipe();
  using namespace lameduck;
  lint::LintOptions options;
  if (const auto exit_now = cli::parse_lameduck_flags(argc, argv, options)) {
    return *exit_now;
  }
  return cli::run_guarded("lameduck", [&] { return lint::run_lint(options); });
}

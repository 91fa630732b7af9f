#pragma once

// One step of prestop's drain phase (contract §5), as written on the command line:
//
//   url:URL                      the drain protocol, as --drain-url
//   signal:NAME:SIGNAL           a signal to the pod's process NAME (its comm, or argv[0]'s base name)
//   signal:pidfile=PATH:SIGNAL   ... or to the process a pid file names
//   exec:PATH[,ARG]...           a command, argv as given (no shell)
//
// Each may end in @DURATION, the step's own timeout ("signal:nginx:QUIT@20s"). Commas separate
// exec's arguments because a preStop exec array gives each flag one string.

#include "lameduck/core/duration.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck {

enum class DrainStepKind { url, signal, exec };

struct DrainStep {
  DrainStepKind kind = DrainStepKind::url;
  std::string url;                  // url
  std::string process_name;         // signal, by name
  std::string pid_file;             // signal, by pid file
  int signal_number = 0;            // signal
  std::string signal_name;          // signal, as written without "SIG" ("QUIT")
  std::vector<std::string> argv;    // exec
  std::optional<Duration> timeout;  // @DURATION; none: a share of what is left
};

std::string_view drain_step_kind_name(DrainStepKind kind);

// The step, or an error that quotes the text and says what is wrong with it.
Expected<DrainStep> parse_drain_step(std::string_view text);

// "nginx", "pidfile=/run/nginx.pid", "http://127.0.0.1:8080/drain", "/bin/flush --now".
std::string drain_step_target(const DrainStep& step);

// "QUIT", "SIGUSR1" or "3"; nothing for a name this tool does not know.
std::optional<int> parse_signal_name(std::string_view text);

// What a signal or exec step ended with, in the words of the summary's `steps` entries.
enum class StepOutcome { done, skipped, gave_up };

struct StepResult {
  StepOutcome outcome = StepOutcome::gave_up;
  std::string reason;
  LogFields details = LogFields::object();
};

} // namespace lameduck

#pragma once

// The drain step for what stops with a command (a flush, a CLI's "drain" verb): argv run as
// given, with no shell (images often have none), in a process group of its own so that the
// whole of it can be killed when the step's deadline comes. Its stdout goes to prestop's
// stderr, with the logs, so that prestop's own stdout stays what the contract says.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_step.hpp"

namespace lameduck {

// Done when it exits 0; any other exit, a signal, a command that cannot be started, or one still
// running at the deadline (its process group then gets SIGKILL) is `gave_up`.
StepResult run_exec_step(const DrainStep& step, const Deadline& deadline, const Logger& logger);

} // namespace lameduck

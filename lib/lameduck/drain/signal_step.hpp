#pragma once

// The drain step for a server that stops gracefully on a signal and does not speak the drain
// protocol (nginx: QUIT, haproxy: USR1): the signal goes to the process found by name or pid
// file (to the topmost of those with that name: the master, which tells its workers), then the
// step waits until that process and its descendants have exited or, when they were listening,
// until they hold no listening socket and no connection; bounded by the step's deadline.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_step.hpp"

namespace lameduck {

// How often the processes and their sockets are looked at again.
inline constexpr auto k_signal_step_poll = std::chrono::milliseconds{20};

// A process that is not there is `skipped` (it has nothing left to drain), saying so; one still
// serving at the deadline is `gave_up`.
StepResult run_signal_step(const DrainStep& step, const Deadline& deadline, const Logger& logger);

} // namespace lameduck

#pragma once

// Waiting on one descriptor within a deadline. A signal that interrupts the wait (EINTR) is
// waited through with what is left of the deadline: poll() is never restarted by the kernel,
// whatever SA_RESTART says, so without this a handler anywhere in the process (a shutdown
// signal, a profiler's or a fuzzer's timer) would end the wait early as an error or a timeout.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"

namespace lameduck {

// True once `fd` can do `events` (POLLIN, POLLOUT; a hang-up or an error counts as ready, for
// the read or write to report it), false when the deadline passes first.
Expected<bool> wait_for_fd(int fd, short events, const Deadline& deadline);

} // namespace lameduck

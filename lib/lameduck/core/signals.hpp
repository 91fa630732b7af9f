#pragma once

// SIGTERM and SIGINT ask a server to stop. The handler only writes to a self-pipe, so a
// server can wait for it with poll() alongside its own work, with no periodic wake-ups.
// SIGPIPE is ignored: a peer that hangs up must cost an error return, not the process.

#include "lameduck/core/deadline.hpp"

#include <csignal>

namespace lameduck {

class ShutdownSignals {
public:
  // Installs the handlers; there can be one instance at a time. The destructor restores the
  // previous handlers.
  ShutdownSignals();
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until a signal arrives or the deadline passes; returns the signal number, or 0.
  int wait(const Deadline& deadline) const;
  // Blocks until a signal arrives.
  int wait() const;

  // Readable once a signal has arrived (for poll loops).
  int fd() const { return m_read_fd; }

private:
  int m_read_fd = -1;
  struct sigaction m_previous_term {};
  struct sigaction m_previous_int {};
};

// Ignores SIGPIPE for the whole process, every thread included. Each tool calls it first in
// main(): MSG_NOSIGNAL covers our own sends, but OpenSSL writes to the socket on its own (alerts,
// close_notify after the deadline shut the socket down), and one such write to a peer that hung
// up would otherwise end the process.
void ignore_sigpipe();

} // namespace lameduck

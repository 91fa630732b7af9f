#include "lameduck/core/signals.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <unistd.h>

namespace lameduck {

namespace {

volatile sig_atomic_t g_write_fd = -1;

void on_signal(int signal_number) {
  const int saved_errno = errno;
  const auto byte = static_cast<unsigned char>(signal_number);
  if (g_write_fd >= 0) {
    [[maybe_unused]] const auto ignored = ::write(g_write_fd, &byte, 1);
  }
  errno = saved_errno;
}

int poll_for_signal(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  while (true) {
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready > 0) {
      unsigned char byte = 0;
      return ::read(fd, &byte, 1) == 1 ? byte : 0;
    }
    if (ready == 0 || errno != EINTR) {
      return 0;
    }
  }
}

} // namespace

void ignore_sigpipe() {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
}

ShutdownSignals::ShutdownSignals() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error("cannot create the signal pipe");
  }
  m_read_fd = fds[0];
  g_write_fd = fds[1];
  // The read end blocks in poll(), not in read(); non-blocking keeps a spurious wake-up harmless.
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, &m_previous_term);
  sigaction(SIGINT, &action, &m_previous_int);
  ignore_sigpipe();
}

ShutdownSignals::~ShutdownSignals() {
  sigaction(SIGTERM, &m_previous_term, nullptr);
  sigaction(SIGINT, &m_previous_int, nullptr);
  const int write_fd = g_write_fd;
  g_write_fd = -1;
  ::close(write_fd);
  ::close(m_read_fd);
}

int ShutdownSignals::wait(const Deadline& deadline) const {
  const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  return poll_for_signal(m_read_fd, static_cast<int>(std::min<long long>(left_ms, 1LL << 30)));
}

int ShutdownSignals::wait() const {
  return poll_for_signal(m_read_fd, -1);
}

} // namespace lameduck

#include "lameduck/core/fd_wait.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <poll.h>
#include <string>

namespace lameduck {

Expected<bool> wait_for_fd(int fd, short events, const Deadline& deadline) {
  for (;;) {
    // Rounded up: a wait shorter than a millisecond must not become a poll that never waits.
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
    pollfd entry{.fd = fd, .events = events, .revents = 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(wait, INT_MAX)));
    if (ready >= 0) {
      return ready > 0;
    }
    if (errno != EINTR) {
      return unexpected(std::string("poll: ") + std::strerror(errno));
    }
  }
}

} // namespace lameduck

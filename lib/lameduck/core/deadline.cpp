#include "lameduck/core/deadline.hpp"

#include <thread>

namespace lameduck {

bool sleep_within(Duration duration, const Deadline& deadline) {
  const auto now = Clock::now();
  const bool cut_short = duration > deadline.remaining(now);
  std::this_thread::sleep_for(deadline.cap(duration, now));
  return !cut_short;
}

} // namespace lameduck

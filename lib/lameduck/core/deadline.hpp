#pragma once

// One monotonic deadline, fixed once and passed down: every connect, read, retry and sleep is
// bounded by what is left of it, so nothing can hold a hook past its budget.

#include "lameduck/core/duration.hpp"

#include <chrono>

namespace lameduck {

using Clock = std::chrono::steady_clock;

class Deadline {
public:
  static Deadline at(Clock::time_point when) { return Deadline{when}; }
  static Deadline after(Duration budget, Clock::time_point now = Clock::now()) { return Deadline{now + budget}; }

  Clock::time_point when() const { return m_when; }

  // Never negative: an expired deadline has zero left.
  Duration remaining(Clock::time_point now = Clock::now()) const {
    return now >= m_when ? Duration::zero() : std::chrono::duration_cast<Duration>(m_when - now);
  }
  bool expired(Clock::time_point now = Clock::now()) const { return now >= m_when; }

  // The bound for one attempt: min(per_attempt, what is left).
  Duration cap(Duration per_attempt, Clock::time_point now = Clock::now()) const {
    return std::min(per_attempt, remaining(now));
  }

  // A sub-deadline for one phase or one attempt, never later than this one.
  Deadline within(Duration budget, Clock::time_point now = Clock::now()) const {
    return Deadline{std::min(m_when, now + budget)};
  }

private:
  explicit Deadline(Clock::time_point when) : m_when(when) {}

  Clock::time_point m_when;
};

// Sleeps for `duration` or until the deadline, whichever comes first. Returns false when the
// deadline cut the sleep short.
bool sleep_within(Duration duration, const Deadline& deadline);

} // namespace lameduck

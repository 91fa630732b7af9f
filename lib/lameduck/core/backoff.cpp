#include "lameduck/core/backoff.hpp"

#include <algorithm>
#include <random>

namespace lameduck {

namespace {

Duration with_jitter(Duration pause) {
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(1.0, 1.2);
  return std::chrono::duration_cast<Duration>(pause * factor(random));
}

} // namespace

Duration Backoff::next(std::optional<Duration> at_least) {
  const Duration pause = std::max(with_jitter(m_step), at_least.value_or(Duration::zero()));
  m_step = std::min(m_step * 2, m_policy.max);
  return pause;
}

std::optional<Duration> Backoff::next_within(const Deadline& deadline, std::optional<Duration> at_least) {
  const Duration pause = next(at_least);
  if (pause >= deadline.remaining()) {
    return std::nullopt;
  }
  return pause;
}

bool Backoff::wait(const Deadline& deadline, std::optional<Duration> at_least) {
  const auto pause = next_within(deadline, at_least);
  return pause && sleep_within(*pause, deadline);
}

} // namespace lameduck

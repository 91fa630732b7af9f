#pragma once

// The one rhythm of retries, for every client lameduck has (the API server, etcd, HTTP
// registries, the agent's drain endpoint, the readiness switch, the EndpointSlice watch):
// pauses that double from `first` up to `max`, with jitter so that a rollout's pods do not
// retry in step, stretched to what the peer asks for (Retry-After), and never past the
// deadline. What differs between clients is only the policy.

#include "lameduck/core/deadline.hpp"

#include <optional>

namespace lameduck {

struct BackoffPolicy {
  Duration first;
  Duration max;
};

class Backoff {
public:
  explicit Backoff(BackoffPolicy policy) : m_policy(policy), m_step(policy.first) {}

  // The pause before the next attempt: the current step plus up to 20% of it, or `at_least`
  // (the peer's Retry-After) when that is longer. The step then doubles, up to the max.
  Duration next(std::optional<Duration> at_least = std::nullopt);

  // The next pause when it ends before the deadline; nothing when it would not, so that the
  // caller gives up at once, with time left for what comes after.
  std::optional<Duration> next_within(const Deadline& deadline, std::optional<Duration> at_least = std::nullopt);

  // Sleeps that pause and returns true; false at once when it does not fit.
  bool wait(const Deadline& deadline, std::optional<Duration> at_least = std::nullopt);

  // After a success: the next failure starts again from the first pause.
  void reset() { m_step = m_policy.first; }

private:
  BackoffPolicy m_policy;
  Duration m_step;
};

} // namespace lameduck

#pragma once

// Drain protocol v1, the client side (contract §4): ask the agent to drain, then wait until
// it reports its state flushed, and optionally until its port has no connections left. One
// Deadline bounds all of it; whatever the agent does, the caller gets an answer in time.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/core/url.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lameduck {

inline constexpr auto k_default_poll_interval = std::chrono::milliseconds{100};
// How long a refused connection is retried before the agent counts as having no endpoint.
inline constexpr auto k_refused_retry_window = std::chrono::seconds{2};
// The longest a single long-poll asks the agent to hold its answer.
inline constexpr auto k_max_long_poll = std::chrono::seconds{10};

struct DrainClientOptions {
  Url drain_url;
  std::optional<Url> status_url; // the drain URL when not given
  std::string termination_id;
  Duration poll_interval = k_default_poll_interval;
  bool fail_if_missing = false; // --if-missing fail
  std::vector<int> connections_ports;
};

enum class DrainOutcome {
  flushed,  // the agent reported "flushed" (and its ports have no connections left)
  missing,  // the agent has no drain endpoint (404, 405, 501, or nothing listening)
  gave_up,  // the deadline came first, or the agent answered something unusable
};

struct DrainResult {
  DrainOutcome outcome = DrainOutcome::gave_up;
  std::string reason;
  Duration elapsed{};
};

std::string_view drain_outcome_name(DrainOutcome outcome);

DrainResult drain_and_wait(const DrainClientOptions& options, const Deadline& deadline, const Logger& logger);

} // namespace lameduck

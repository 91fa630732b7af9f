#pragma once

// The last word of a termination: prestop's JSON summary POSTed to a control plane that keeps
// track of agents, with the termination id as Idempotency-Key so that retries and repeated
// hook deliveries count once. Retried (5xx, 429, 408, transport errors) until the deadline.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"

#include <string>

namespace lameduck {

struct CompletionNotice {
  std::string url;
  std::string termination_id;
  std::string summary_json;
};

// The status of the 2xx answer; an error naming the last answer or failure otherwise.
Expected<int> send_completion_notice(const CompletionNotice& notice, const Deadline& deadline, const Logger& logger);

} // namespace lameduck

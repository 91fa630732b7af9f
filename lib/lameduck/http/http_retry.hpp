#pragma once

// One HTTP request, sent again until it gets an answer worth keeping or the deadline passes:
// for calls to other systems whose failure is usually brief (a registry restarting, a control
// plane behind a load balancer). Each attempt is bounded on its own, so one hung peer costs
// one attempt, not the whole budget.

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/http/http_client.hpp"

#include <chrono>
#include <optional>

namespace lameduck {

struct RetryPolicy {
  Duration attempt_timeout = std::chrono::seconds{2};
  BackoffPolicy backoff{.first = std::chrono::milliseconds{100}, .max = std::chrono::seconds{1}};
};

// Retry-After in seconds, as the apiserver and most registries send it; nothing when absent or
// not a number (the HTTP-date form is not used by anything lameduck talks to).
std::optional<Duration> retry_after(const HttpResponse& response);

// Worth another attempt: 408, 429 and 5xx answers (a transport error always is).
bool is_retryable_status(int status);

// The last answer when it is not retryable or the deadline came after it; the last transport
// error otherwise. Retry-After (seconds) stretches the pause before the next attempt. Each
// retry is logged at debug level under `event`.
Expected<HttpResponse, HttpError> send_with_retries(HttpClient& client, const HttpRequest& request,
                                                    const Deadline& deadline, const RetryPolicy& policy,
                                                    const Logger& logger, std::string_view event);

} // namespace lameduck

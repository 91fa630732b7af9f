#include "lameduck/http_retry.hpp"

#include <algorithm>
#include <charconv>

namespace lameduck {

std::optional<Duration> retry_after(const HttpResponse& response) {
  const std::string text = response.header("Retry-After");
  int seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || seconds < 0) {
    return std::nullopt;
  }
  return std::chrono::seconds{seconds};
}

bool is_retryable_status(int status) {
  return status == 408 || status == 429 || status >= 500;
}

Expected<HttpResponse, HttpError> send_with_retries(HttpClient& client, const HttpRequest& request,
                                                    const Deadline& deadline, const RetryPolicy& policy,
                                                    const Logger& logger, std::string_view event) {
  Duration backoff = policy.first_backoff;
  for (int attempt = 1;; ++attempt) {
    auto answer = client.send(request, deadline.within(policy.attempt_timeout));
    std::optional<Duration> pause;
    std::string why;
    if (answer) {
      if (!is_retryable_status(answer->status)) {
        return answer;
      }
      pause = retry_after(*answer);
      why = "answered " + std::to_string(answer->status);
    } else {
      why = answer.error().message;
    }
    const Duration wait = std::max(pause.value_or(backoff), backoff);
    backoff = std::min(backoff * 2, policy.max_backoff);
    if (deadline.remaining() <= wait) {
      return answer;
    }
    logger.debug(event, why + "; trying again", {{"attempt", attempt}, {"wait_ms", to_ms(wait)}});
    sleep_within(wait, deadline);
  }
}

} // namespace lameduck

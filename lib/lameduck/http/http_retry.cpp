#include "lameduck/http/http_retry.hpp"

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
  Backoff backoff(policy.backoff);
  for (int attempt = 1;; ++attempt) {
    auto answer = client.send(request, deadline.within(policy.attempt_timeout));
    std::optional<Duration> asked;
    std::string why;
    if (answer) {
      if (!is_retryable_status(answer->status)) {
        return answer;
      }
      asked = retry_after(*answer);
      why = "answered " + std::to_string(answer->status);
    } else {
      why = answer.error().message;
    }
    const auto pause = backoff.next_within(deadline, asked);
    if (!pause) {
      return answer;
    }
    logger.debug(event, why + "; trying again", {{"attempt", attempt}, {"wait_ms", to_ms(*pause)}});
    sleep_within(*pause, deadline);
  }
}

} // namespace lameduck

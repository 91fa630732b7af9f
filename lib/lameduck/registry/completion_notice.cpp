#include "lameduck/registry/completion_notice.hpp"

#include "lameduck/core/url.hpp"
#include "lameduck/http/http_retry.hpp"

namespace lameduck {

Expected<int> send_completion_notice(const CompletionNotice& notice, const Deadline& deadline, const Logger& logger) {
  const auto url = parse_url(notice.url);
  if (!url) {
    return unexpected("--notify-url: " + url.error().message);
  }
  HttpClient client(*url, {.keep_alive = false});
  const HttpRequest request{.method = "POST",
                            .target = url->target,
                            .headers = {{"Idempotency-Key", notice.termination_id}},
                            .body = notice.summary_json,
                            .content_type = "application/json"};
  const auto answer = send_with_retries(client, request, deadline, RetryPolicy{}, logger, "notify.retry");
  if (!answer) {
    return unexpected("POST " + url->text() + ": " + answer.error().message);
  }
  if (answer->status < 200 || answer->status >= 300) {
    return unexpected("POST " + url->text() + " answered " + std::to_string(answer->status));
  }
  return answer->status;
}

} // namespace lameduck

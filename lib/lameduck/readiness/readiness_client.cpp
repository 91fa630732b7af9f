#include "lameduck/readiness/readiness_client.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/http/http_client.hpp"

#include <nlohmann/json.hpp>

namespace lameduck {

namespace {

constexpr BackoffPolicy k_refused_backoff{.first = std::chrono::milliseconds{50}, .max = std::chrono::milliseconds{50}};

HttpRequest make_request(const Url& base, SwitchRequest request, const std::string& reason) {
  std::string prefix = base.target;
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }
  HttpRequest http;
  switch (request) {
  case SwitchRequest::disable:
  case SwitchRequest::enable:
    http.method = "POST";
    http.target = prefix + (request == SwitchRequest::disable ? "/readyz/disable" : "/readyz/enable");
    http.body = nlohmann::json{{"reason", reason}}.dump();
    http.content_type = "application/json";
    break;
  case SwitchRequest::status:
    http.target = prefix + "/readyz/state";
    break;
  }
  return http;
}

} // namespace

Expected<ReadinessState> request_readiness_switch(const Url& base, SwitchRequest request, const std::string& reason,
                                                  const Deadline& deadline) {
  const HttpRequest http = make_request(base, request, reason);
  HttpClientOptions options;
  options.max_body_bytes = 64 * 1024;
  options.user_agent = "lameduck-readyz-toggle";
  Backoff backoff(k_refused_backoff);
  for (;;) {
    HttpClient client(base, options);
    const auto answer = client.send(http, deadline);
    if (!answer) {
      if (answer.error().kind == HttpErrorKind::refused && backoff.wait(deadline)) {
        continue;
      }
      return unexpected("cannot reach the readiness server at " + base.origin() + ": " + answer.error().message);
    }
    if (answer->status != 200) {
      const std::string detail = trim_line_ends(answer->body.substr(0, 200));
      return unexpected(base.origin() + http.target + " answered " + std::to_string(answer->status) +
                        (detail.empty() ? "" : ": " + detail));
    }
    auto state = parse_readiness_state(answer->body);
    if (!state) {
      return unexpected(base.origin() + http.target + " answered something that is not a readiness state: " +
                        state.error().message);
    }
    return state;
  }
}

} // namespace lameduck

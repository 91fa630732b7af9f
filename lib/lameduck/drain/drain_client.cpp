#include "lameduck/drain/drain_client.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/rfc3339.hpp"
#include "lameduck/drain/drain_status.hpp"
#include "lameduck/drain/tcp_connections.hpp"
#include "lameduck/http/http_client.hpp"
#include "lameduck/http/http_retry.hpp"

#include <nlohmann/json.hpp>

namespace lameduck {

namespace {

// A loopback agent that is busy for a moment: retried soon, then less often.
constexpr BackoffPolicy k_backoff{.first = std::chrono::milliseconds{25}, .max = std::chrono::milliseconds{500}};
// Extra time a long-poll answer may take beyond what was asked of the agent.
constexpr auto k_long_poll_slack = std::chrono::seconds{2};
constexpr std::size_t k_max_answer_bytes = 64 * 1024;

// Logs a problem when it differs from the last one, so that a poll loop does not repeat it.
class ProblemLog {
public:
  explicit ProblemLog(const Logger& logger) : m_logger(logger) {}
  void report(std::string_view event, const std::string& problem) {
    if (problem != m_last) {
      m_logger.warn(event, problem);
      m_last = problem;
    }
  }

private:
  const Logger& m_logger;
  std::string m_last;
};

class DrainSession {
public:
  DrainSession(const DrainClientOptions& options, const Deadline& deadline, const Logger& logger)
      : m_options(options), m_deadline(deadline), m_logger(logger), m_problems(logger),
        m_client(std::in_place, options.drain_url, client_options()),
        m_status_client(std::in_place, options.status_url.value_or(options.drain_url), client_options()) {}

  DrainResult run() {
    if (auto ended = request_drain()) {
      return *ended;
    }
    if (auto ended = wait_until_flushed()) {
      return *ended;
    }
    if (auto ended = wait_for_connections()) {
      return *ended;
    }
    return finish(DrainOutcome::flushed, "the agent reported its state flushed");
  }

private:
  static HttpClientOptions client_options() {
    HttpClientOptions options;
    options.max_body_bytes = k_max_answer_bytes;
    options.keep_alive = true;
    return options;
  }

  DrainResult finish(DrainOutcome outcome, std::string reason) const {
    return {.outcome = outcome, .reason = std::move(reason), .elapsed = Clock::now() - m_started};
  }

  DrainResult out_of_time(const std::string& waiting_for) const {
    return finish(DrainOutcome::gave_up, "the deadline came before " + waiting_for);
  }

  HttpRequest drain_request() const {
    const auto remaining = m_deadline.remaining();
    const auto deadline_wall = WallClock::now() + std::chrono::duration_cast<WallClock::duration>(remaining);
    HttpRequest request;
    request.method = "POST";
    request.target = m_options.drain_url.target;
    request.headers = {{"Idempotency-Key", m_options.termination_id}};
    request.content_type = "application/json";
    request.body = nlohmann::ordered_json{{"terminationId", m_options.termination_id},
                                          {"deadline", format_rfc3339(deadline_wall)},
                                          {"remainingMs", to_ms(remaining)}}
                       .dump();
    return request;
  }

  // Phase one: POST until accepted. Returns a result when the drain ends here.
  std::optional<DrainResult> request_drain() {
    m_backoff.reset();
    std::optional<Clock::time_point> first_refusal;
    for (;;) {
      const auto answer = m_client->send(drain_request(), m_deadline);
      if (!answer) {
        const auto& error = answer.error();
        if (error.kind == HttpErrorKind::refused) {
          const auto now = Clock::now();
          first_refusal = first_refusal.value_or(now);
          if (now - *first_refusal >= k_refused_retry_window) {
            return missing("nothing listens at " + m_options.drain_url.text() + " (refused for " +
                           std::to_string(to_ms(now - *first_refusal)) + " ms)");
          }
        }
        m_problems.report("drain.retry", "cannot reach the drain endpoint: " + error.message);
        if (!m_backoff.wait(m_deadline)) {
          return out_of_time("the agent accepted the drain (" + error.message + ")");
        }
        continue;
      }
      const int status = answer->status;
      if (status >= 200 && status < 300) {
        if (auto accepted = parse_drain_status(answer->body)) {
          m_last = *accepted; // agents that answer the POST with their status
        }
        m_logger.info("drain.accepted", "the agent accepted the drain",
                      {{"status", status}, {"termination_id", m_options.termination_id}});
        return std::nullopt;
      }
      if (status == 404 || status == 405 || status == 501) {
        return missing(m_options.drain_url.text() + " answered " + std::to_string(status));
      }
      if (is_retryable_status(status)) {
        m_problems.report("drain.retry", "the drain endpoint answered " + std::to_string(status) + "; retrying");
        if (!m_backoff.wait(m_deadline, retry_after(*answer))) {
          return out_of_time("the agent accepted the drain (it answered " + std::to_string(status) + ")");
        }
        continue;
      }
      // Redirects and other client errors: the URL is not a drain endpoint we can use.
      return finish(DrainOutcome::gave_up, m_options.drain_url.text() + " answered " + std::to_string(status) +
                                               (status >= 300 && status < 400 ? " (redirects are not followed)" : ""));
    }
  }

  DrainResult missing(const std::string& why) const {
    if (m_options.fail_if_missing) {
      return finish(DrainOutcome::gave_up, "no drain endpoint: " + why + " (--if-missing fail)");
    }
    m_logger.warn("drain.missing", "the agent has no drain endpoint; nothing to wait for", {{"why", why}});
    return finish(DrainOutcome::missing, "no drain endpoint: " + why);
  }

  std::string status_target(Duration wait) const {
    std::string target = m_options.status_url.value_or(m_options.drain_url).target;
    target += target.find('?') == std::string::npos ? '?' : '&';
    return target + "waitMs=" + std::to_string(to_ms(wait));
  }

  // Phase two: ask for the status until "flushed".
  std::optional<DrainResult> wait_until_flushed() {
    std::optional<DrainStatus>& last = m_last;
    for (;;) {
      const auto wait = m_deadline.cap(k_max_long_poll);
      const auto asked_at = Clock::now();
      HttpRequest request;
      request.target = status_target(wait);
      const auto answer = m_status_client->send(request, m_deadline.within(wait + k_long_poll_slack));
      if (m_deadline.expired()) {
        return out_of_time("the agent reported \"flushed\"" +
                           (last ? std::string(" (last state: ") + std::string(drain_state_name(last->state)) + ", " +
                                       std::to_string(last->inflight) + " in flight)"
                                 : std::string()));
      }
      std::optional<DrainStatus> status;
      if (!answer) {
        m_problems.report("drain.status_failed", "cannot read the drain status: " + answer.error().message);
      } else if (answer->status != 200) {
        m_problems.report("drain.status_failed", "the drain status answered " + std::to_string(answer->status));
      } else if (auto parsed = parse_drain_status(answer->body); !parsed) {
        m_problems.report("drain.status_invalid", "the drain status is not usable: " + parsed.error().message);
      } else {
        status = *parsed;
      }

      if (status && status->state == DrainState::flushed) {
        m_logger.info("drain.flushed", "the agent reported its state flushed",
                      {{"ms", to_ms(Clock::now() - m_started)}});
        return std::nullopt;
      }
      if (status && status->state == DrainState::accepting) {
        // It accepted the drain and now accepts work again: it restarted and forgot. Ask again.
        m_problems.report("drain.forgotten", "the agent reports \"accepting\" after accepting the drain; asking again");
        if (auto ended = request_drain()) {
          return ended;
        }
      }
      if (status && last && *status != *last) {
        m_logger.debug("drain.progress", "the agent is draining", {{"inflight", status->inflight}});
      }
      const bool changed = status && (!last || *status != *last);
      if (status) {
        last = status;
      }
      // An agent that honours waitMs answers when something changed; one that ignores it
      // answers at once, and is then asked no more often than every --poll-interval.
      const auto took = Clock::now() - asked_at;
      if (!changed && took < m_options.poll_interval) {
        sleep_within(m_options.poll_interval - took, m_deadline);
      }
    }
  }

  // Phase three: the agent's ports have no ESTABLISHED connection left.
  std::optional<DrainResult> wait_for_connections() {
    if (m_options.connections_ports.empty()) {
      return std::nullopt;
    }
    // Our own kept-alive connections to the agent would count too.
    m_client.reset();
    m_status_client.reset();
    for (;;) {
      const auto count = count_established_connections(m_options.connections_ports);
      if (!count) {
        return finish(DrainOutcome::gave_up, "cannot count connections: " + count.error().message);
      }
      if (*count == 0) {
        m_logger.info("drain.connections_closed", "no connection left on the agent's ports",
                      {{"ms", to_ms(Clock::now() - m_started)}});
        return std::nullopt;
      }
      m_problems.report("drain.connections_open", std::to_string(*count) + " connections still open");
      if (!sleep_within(m_options.poll_interval, m_deadline) || m_deadline.expired()) {
        return out_of_time("the last connection closed (" + std::to_string(*count) + " still open)");
      }
    }
  }

  const DrainClientOptions& m_options;
  const Deadline m_deadline;
  const Logger& m_logger;
  ProblemLog m_problems;
  std::optional<HttpClient> m_client;
  std::optional<HttpClient> m_status_client;
  Clock::time_point m_started = Clock::now();
  Backoff m_backoff{k_backoff};
  std::optional<DrainStatus> m_last; // the agent's last status we could read
};

} // namespace

std::string_view drain_outcome_name(DrainOutcome outcome) {
  switch (outcome) {
  case DrainOutcome::flushed:
    return "flushed";
  case DrainOutcome::missing:
    return "missing";
  case DrainOutcome::gave_up:
    return "gave_up";
  }
  return "unknown";
}

DrainResult drain_and_wait(const DrainClientOptions& options, const Deadline& deadline, const Logger& logger) {
  return DrainSession(options, deadline, logger).run();
}

} // namespace lameduck

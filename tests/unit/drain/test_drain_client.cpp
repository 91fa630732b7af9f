#include "lameduck/drain/drain_client.hpp"

#include "lameduck/drain/drain_controller.hpp"
#include "support/http_test_server.hpp"
#include "support/quiet_logger.hpp"
#include "support/sockets.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::DrainClientOptions;
using lameduck::DrainOutcome;
using lameduck::test::HttpTestServer;
using lameduck::test::k_quiet;

namespace {

DrainClientOptions options_for(const std::string& url) {
  DrainClientOptions options;
  options.drain_url = lameduck::parse_url(url).value();
  options.termination_id = "uid-1";
  options.poll_interval = 20ms;
  return options;
}

lameduck::DrainResult drain(const DrainClientOptions& options, lameduck::Duration budget = 5s) {
  return lameduck::drain_and_wait(options, Deadline::after(budget), k_quiet);
}

} // namespace

TEST_CASE("drain_and_wait against an agent that speaks the protocol") {
  std::atomic<Clock::time_point> flushed_at{};
  lameduck::DrainController controller(
      [&flushed_at](const std::string&) -> lameduck::Expected<lameduck::Done> {
        flushed_at = Clock::now();
        return lameduck::Done{};
      },
      k_quiet);
  const HttpTestServer agent([&controller](httplib::Server& s) { controller.serve_on(s, "/drain"); });

  SUBCASE("returns flushed once the work in flight is done") {
    auto work = controller.begin_work();
    auto waiting = std::async(std::launch::async, [&] { return drain(options_for(agent.url("/drain"))); });
    CHECK(controller.wait_for_change({lameduck::DrainState::accepting, 1}, 5s).state == lameduck::DrainState::draining);
    work.reset();
    const auto result = waiting.get();
    CHECK(result.outcome == DrainOutcome::flushed);
    // The long-poll brings the news at once, not a poll interval later.
    CHECK(Clock::now() - flushed_at.load() < 1s);
  }
  SUBCASE("an agent that never flushes: gave up by the deadline, not after it") {
    auto work = controller.begin_work();
    const auto started = Clock::now();
    const auto result = drain(options_for(agent.url("/drain")), 400ms);
    const auto took = Clock::now() - started;
    CHECK(result.outcome == DrainOutcome::gave_up);
    CHECK(result.reason.find("1 in flight") != std::string::npos);
    CHECK(took >= 350ms);
    CHECK(took < 400ms + k_scheduling_slack);
  }
}

TEST_CASE("drain_and_wait against agents that do not") {
  SUBCASE("no drain endpoint: missing, or gave up with --if-missing fail") {
    const HttpTestServer agent([](httplib::Server& s) {
      s.Post("/other", [](const auto&, auto&) {});
      s.Post("/drain-501", [](const auto&, auto& response) { response.status = 501; });
    });
    CHECK(drain(options_for(agent.url("/drain"))).outcome == DrainOutcome::missing);
    CHECK(drain(options_for(agent.url("/drain-501"))).outcome == DrainOutcome::missing);
    auto strict = options_for(agent.url("/drain"));
    strict.fail_if_missing = true;
    CHECK(drain(strict).outcome == DrainOutcome::gave_up);
  }
  SUBCASE("nothing listening: retried for 2 s, then missing; sooner when the deadline is sooner") {
    const auto url = "http://127.0.0.1:" + std::to_string(lameduck::test::closed_port()) + "/drain";
    const auto started = Clock::now();
    CHECK(drain(options_for(url), 10s).outcome == DrainOutcome::missing);
    CHECK(Clock::now() - started >= lameduck::k_refused_retry_window);
    CHECK(Clock::now() - started < 3s);
    const auto short_started = Clock::now();
    CHECK(drain(options_for(url), 300ms).outcome == DrainOutcome::gave_up);
    CHECK(Clock::now() - short_started < 300ms + k_scheduling_slack);
  }
  SUBCASE("5xx on the POST is retried; garbage and wrong types in the status are survived") {
    std::atomic<int> posts{0};
    std::atomic<int> gets{0};
    const HttpTestServer agent([&](httplib::Server& s) {
      s.Post("/drain", [&posts](const auto&, auto& response) { response.status = ++posts < 3 ? 503 : 202; });
      s.Get("/drain", [&gets](const auto&, auto& response) {
        const char* answers[] = {"<html>oops</html>", R"({"state":1})", R"({"state":"draining","inflight":"x"})",
                                 R"({"state":"draining","inflight":2})"};
        const int n = gets++;
        response.set_content(n < 4 ? answers[n] : R"({"state":"flushed","inflight":0})", "application/json");
      });
    });
    const auto result = drain(options_for(agent.url("/drain")));
    CHECK(result.outcome == DrainOutcome::flushed);
    CHECK(posts == 3);
    CHECK(gets == 5);
  }
  SUBCASE("an agent that ignores waitMs is asked every --poll-interval, no more often") {
    std::atomic<int> gets{0};
    const auto started = Clock::now();
    const HttpTestServer agent([&](httplib::Server& s) {
      s.Post("/drain", [](const auto&, auto& response) { response.status = 202; });
      s.Get("/drain", [&](const auto&, auto& response) {
        ++gets;
        const bool done = Clock::now() - started > 300ms;
        response.set_content(done ? R"({"state":"flushed"})" : R"({"state":"draining","inflight":1})",
                             "application/json");
      });
    });
    auto options = options_for(agent.url("/drain"));
    options.poll_interval = 50ms;
    CHECK(drain(options).outcome == DrainOutcome::flushed);
    CHECK(gets <= 300 / 50 + 2);
  }
  SUBCASE("an agent that forgets the drain (accepting again) is asked again") {
    std::atomic<int> posts{0};
    std::atomic<int> gets{0};
    const HttpTestServer agent([&](httplib::Server& s) {
      s.Post("/drain", [&posts](const auto&, auto& response) {
        ++posts;
        response.status = 202;
      });
      s.Get("/drain", [&gets](const auto&, auto& response) {
        response.set_content(++gets == 1 ? R"({"state":"accepting"})" : R"({"state":"flushed"})", "application/json");
      });
    });
    CHECK(drain(options_for(agent.url("/drain"))).outcome == DrainOutcome::flushed);
    CHECK(posts == 2);
  }
  SUBCASE("a redirect is not followed: gave up at once, saying why") {
    const HttpTestServer agent([](httplib::Server& s) {
      s.Post("/drain", [](const auto&, auto& response) { response.set_redirect("http://example.com/"); });
    });
    const auto started = Clock::now();
    const auto result = drain(options_for(agent.url("/drain")));
    CHECK(result.outcome == DrainOutcome::gave_up);
    CHECK(result.reason.find("redirects are not followed") != std::string::npos);
    CHECK(Clock::now() - started < 1s);
  }
  SUBCASE("a status that hangs cannot hold the caller past its deadline") {
    HttpTestServer* self = nullptr;
    HttpTestServer agent([&self](httplib::Server& s) {
      s.Post("/drain", [](const auto&, auto& response) { response.status = 202; });
      s.Get("/drain", [&self](const auto&, auto&) { self->stall(30s); });
    });
    self = &agent;
    const auto started = Clock::now();
    CHECK(drain(options_for(agent.url("/drain")), 300ms).outcome == DrainOutcome::gave_up);
    CHECK(Clock::now() - started < 300ms + k_scheduling_slack);
  }
}

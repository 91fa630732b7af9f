#include "lameduck/registry/completion_notice.hpp"

#include "support/http_test_server.hpp"
#include "support/quiet_logger.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::HttpTestServer;
using lameduck::test::k_quiet;

TEST_CASE("the completion notice to a control plane") {
  std::atomic<int> requests{0};
  std::atomic<int> failures_first{0};
  std::mutex mutex;
  std::string body;
  std::string key;
  std::string content_type;
  HttpTestServer control_plane([&](httplib::Server& server) {
    server.Post("/terminations", [&](const httplib::Request& request, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      body = request.body;
      key = request.get_header_value("Idempotency-Key");
      content_type = request.get_header_value("Content-Type");
      response.status = requests++ < failures_first ? 503 : 202;
    });
    server.Post("/hang", [&](const httplib::Request&, httplib::Response&) { control_plane.stall(30s); });
  });
  const lameduck::CompletionNotice notice{.url = control_plane.url("/terminations"),
                                          .termination_id = "uid-1",
                                          .summary_json = R"({"outcome":"drained"})"};

  SUBCASE("the summary, as JSON, keyed by the termination id") {
    const auto sent = lameduck::send_completion_notice(notice, Deadline::after(3s), k_quiet);
    REQUIRE(sent);
    CHECK(*sent == 202);
    CHECK(body == R"({"outcome":"drained"})");
    CHECK(key == "uid-1");
    CHECK(content_type == "application/json");
  }
  SUBCASE("a control plane that fails for a while gets it again, with the same key") {
    failures_first = 2;
    CHECK(lameduck::send_completion_notice(notice, Deadline::after(3s), k_quiet));
    CHECK(requests == 3);
    CHECK(key == "uid-1");
  }
  SUBCASE("a hung control plane costs the deadline and no more") {
    auto hung = notice;
    hung.url = control_plane.url("/hang");
    const auto started = Clock::now();
    const auto sent = lameduck::send_completion_notice(hung, Deadline::after(600ms), k_quiet);
    CHECK_FALSE(sent);
    CHECK(Clock::now() - started < 600ms + k_scheduling_slack);
  }
}

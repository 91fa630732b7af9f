#include "lameduck/drain/drain_controller.hpp"

#include "lameduck/http/http_client.hpp"
#include "support/http_test_server.hpp"
#include "support/quiet_logger.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::DrainController;
using lameduck::DrainState;
using lameduck::DrainStatus;
using lameduck::test::k_quiet;

TEST_CASE("DrainController") {
  std::atomic<int> flushes{0};
  std::atomic<bool> flush_fails{false};
  std::mutex flush_mutex;
  std::condition_variable flush_tried;
  // Blocks until the controller has tried to flush `count` times; false at the deadline.
  const auto until_flushes = [&](int count, const Deadline& deadline) {
    std::unique_lock lock(flush_mutex);
    return flush_tried.wait_until(lock, deadline.when(), [&] { return flushes >= count; });
  };
  DrainController controller(
      [&](const std::string&) -> lameduck::Expected<lameduck::Done> {
        {
          const std::lock_guard lock(flush_mutex);
          ++flushes;
        }
        flush_tried.notify_all();
        if (flush_fails) {
          return lameduck::unexpected(std::string("disk full"));
        }
        return lameduck::Done{};
      },
      k_quiet);

  SUBCASE("flushes once the last work ends, and refuses new work meanwhile") {
    auto work = controller.begin_work();
    REQUIRE(work);
    CHECK(controller.status() == DrainStatus{DrainState::accepting, 1});
    CHECK(controller.start_drain("uid-1") == DrainStatus{DrainState::draining, 1});
    CHECK_FALSE(controller.begin_work());
    CHECK(controller.wait_for_change(controller.status(), 50ms).state == DrainState::draining);
    CHECK(flushes == 0);
    work.reset();
    const auto after = controller.wait_for_change({DrainState::draining, 1}, 5s);
    const auto flushed = controller.wait_for_change({DrainState::draining, 0}, 5s);
    CHECK((after.state == DrainState::flushed || flushed.state == DrainState::flushed));
    CHECK(flushes == 1);
  }
  SUBCASE("a repeated drain, with the same id or another, flushes once") {
    controller.start_drain("uid-1");
    controller.start_drain("uid-1");
    controller.start_drain("uid-2");
    CHECK(controller.wait_for_change({DrainState::draining, 0}, 5s).state == DrainState::flushed);
    controller.start_drain("uid-1");
    CHECK(flushes == 1);
    CHECK(controller.termination_id() == "uid-1");
  }
  SUBCASE("reports flushed only after a flush succeeded") {
    flush_fails = true;
    controller.start_drain("uid-1");
    REQUIRE(until_flushes(2, Deadline::after(10s))); // it failed, and was tried again
    CHECK(controller.status().state == DrainState::draining);
    flush_fails = false;
    CHECK(controller.wait_for_change({DrainState::draining, 0}, 5s).state == DrainState::flushed);
  }
  SUBCASE("over HTTP: POST needs an id, GET long-polls until the state changes") {
    std::promise<void> status_asked;
    const lameduck::test::HttpTestServer agent([&controller, &status_asked](httplib::Server& s) {
      controller.serve_on(s);
      s.set_pre_routing_handler([&status_asked](const auto& request, auto&) {
        if (request.method == "GET") {
          status_asked.set_value();
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
    });
    lameduck::HttpClient client(lameduck::parse_url(agent.url()).value());
    const auto post = [&](lameduck::HttpHeaders headers) {
      return client
          .send({.method = "POST", .target = "/drain", .headers = std::move(headers), .body = "{}",
                 .content_type = "application/json"},
                Deadline::after(5s))
          .value();
    };
    CHECK(post({}).status == 400);
    auto work = controller.begin_work();
    CHECK(post({{"Idempotency-Key", "uid-1"}}).status == 202);

    // The work ends once the status request is in: its answer is then held until that change.
    std::thread finisher([&work, &status_asked] {
      status_asked.get_future().wait();
      work.reset();
    });
    const auto started = lameduck::Clock::now();
    const auto answer =
        client.send({.method = "GET", .target = "/drain?waitMs=5000", .headers = {}, .body = {}, .content_type = {}},
                    Deadline::after(10s));
    finisher.join();
    REQUIRE(answer);
    CHECK(lameduck::Clock::now() - started < 4s);
    CHECK(answer->body.find(R"("inflight":0)") != std::string::npos);
  }
}

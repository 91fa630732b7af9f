// The HTTP side of deregistration, against real servers on loopback: what counts as done, what
// is tried again, and that nothing takes longer than the phase's deadline. (etcd, with a real
// etcd, is in tests/integration/test_deregistration.cpp.)

#include "lameduck/registry/deregistration.hpp"

#include "support/http_test_server.hpp"
#include "support/quiet_logger.hpp"
#include "support/sockets.hpp"
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

namespace {

lameduck::DeregistrationResult deregister_at(const std::string& url, lameduck::Duration budget = 3s,
                                             const std::string& method = "PUT") {
  lameduck::DeregistrationOptions options;
  options.http = {.url = url, .method = method};
  return lameduck::deregister(options, Deadline::after(budget), k_quiet);
}

} // namespace

TEST_CASE("deregistering over HTTP") {
  std::atomic<int> requests{0};
  std::mutex mutex;
  std::vector<int> answers; // given in order; the last one again and again
  std::string seen_method;
  HttpTestServer registry([&](httplib::Server& server) {
    const auto handle = [&](const httplib::Request& request, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      const auto n = static_cast<std::size_t>(requests++);
      seen_method = request.method;
      response.status = answers.at(std::min(n, answers.size() - 1));
    };
    server.Put("/v1/agent/service/deregister/agent-1", handle);
    server.Delete("/v1/agent/service/deregister/agent-1", handle);
    server.Put("/hang", [&](const httplib::Request&, httplib::Response&) {
      ++requests;
      registry.stall(30s);
    });
  });
  const std::string url = registry.url("/v1/agent/service/deregister/agent-1");

  SUBCASE("2xx is done, with the method asked for") {
    answers = {200};
    const auto result = deregister_at(url, 3s, "DELETE");
    CHECK(result.complete);
    CHECK(seen_method == "DELETE");
    CHECK(requests == 1);
    CHECK(result.details["http"]["status"] == 200);
  }
  SUBCASE("404 is done: the registry no longer knows the service") {
    answers = {404};
    CHECK(deregister_at(url).complete);
    CHECK(requests == 1);
  }
  SUBCASE("5xx and 429 are tried again until an answer") {
    answers = {503, 429, 500, 200};
    const auto result = deregister_at(url);
    CHECK(result.complete);
    CHECK(requests == 4);
  }
  SUBCASE("a registry that keeps failing is given up on at the deadline") {
    answers = {500};
    const auto started = Clock::now();
    const auto result = deregister_at(url, 800ms);
    CHECK_FALSE(result.complete);
    CHECK(Clock::now() - started < 800ms + k_scheduling_slack);
    CHECK(requests >= 2);
    CHECK(result.reason.find("500") != std::string::npos);
  }
  SUBCASE("another 4xx is an answer, not tried again") {
    answers = {403};
    CHECK_FALSE(deregister_at(url).complete);
    CHECK(requests == 1);
  }
  SUBCASE("a hung registry costs the deadline and no more") {
    const auto started = Clock::now();
    const auto result = deregister_at(registry.url("/hang"), 700ms);
    CHECK_FALSE(result.complete);
    CHECK(Clock::now() - started < 700ms + k_scheduling_slack);
  }
  SUBCASE("nothing listening: tried until the deadline, then a clear reason") {
    const auto result = deregister_at("http://127.0.0.1:" + std::to_string(lameduck::test::closed_port()) + "/x", 500ms);
    CHECK_FALSE(result.complete);
    CHECK(result.reason.find("refused") != std::string::npos);
  }
}

TEST_CASE("deregistering from etcd with a password file that cannot be read") {
  lameduck::DeregistrationOptions options;
  options.etcd.endpoints = {"http://127.0.0.1:" + std::to_string(lameduck::test::closed_port())};
  options.etcd.keys = {"services/agent/a"};
  options.etcd.user = "root";
  options.etcd.password_file = "/nonexistent/password";
  const auto result = lameduck::deregister(options, Deadline::after(2s), k_quiet);
  CHECK_FALSE(result.complete);
  CHECK(result.reason == "cannot read --etcd-password-file \"/nonexistent/password\"");
}

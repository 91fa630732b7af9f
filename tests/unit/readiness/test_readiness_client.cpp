#include "lameduck/readiness/readiness_client.hpp"

#include "lameduck/readiness/readiness_server.hpp"
#include "support/http_test_server.hpp"
#include "support/sockets.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::request_readiness_switch;
using lameduck::SwitchRequest;

TEST_CASE("request_readiness_switch") {
  const lameduck::Logger quiet("readyz-toggle", lameduck::LogFormat::json, lameduck::LogLevel::error,
                               [](std::string_view) {});

  SUBCASE("flips and reads a running server") {
    lameduck::ReadinessServerOptions options;
    options.listen = "127.0.0.1:0";
    lameduck::ReadinessServer server(options, quiet);
    const int port = server.bind().value().port;
    std::thread serving([&server] { server.serve(); });
    const auto base = lameduck::parse_url("http://127.0.0.1:" + std::to_string(port)).value();

    const auto off = request_readiness_switch(base, SwitchRequest::disable, "maintenance", Deadline::after(2s));
    REQUIRE(off);
    CHECK_FALSE(off->ready);
    CHECK(off->reason == "maintenance");
    CHECK_FALSE(request_readiness_switch(base, SwitchRequest::status, "", Deadline::after(2s))->ready);
    CHECK(request_readiness_switch(base, SwitchRequest::enable, "back", Deadline::after(2s))->ready);

    server.stop();
    serving.join();
  }
  SUBCASE("nobody listening: an error within the deadline, naming the server") {
    const auto base = lameduck::parse_url("http://127.0.0.1:" + std::to_string(lameduck::test::closed_port())).value();
    const auto started = lameduck::Clock::now();
    const auto answer = request_readiness_switch(base, SwitchRequest::status, "", Deadline::after(300ms));
    REQUIRE_FALSE(answer);
    CHECK(answer.error().message.find(base.origin()) != std::string::npos);
    CHECK(lameduck::Clock::now() - started < 1s);
  }
  SUBCASE("a server that is not readyz-toggle: an error quoting its answer") {
    const lameduck::test::HttpTestServer other([](httplib::Server& s) {
      s.Get("/readyz/state", [](const auto&, auto& response) { response.set_content("hello", "text/plain"); });
      s.Post("/readyz/disable", [](const auto&, auto& response) { response.status = 403; });
    });
    const auto base = lameduck::parse_url(other.url()).value();
    CHECK_FALSE(request_readiness_switch(base, SwitchRequest::status, "", Deadline::after(1s)));
    const auto refused = request_readiness_switch(base, SwitchRequest::disable, "", Deadline::after(1s));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("403") != std::string::npos);
  }
}

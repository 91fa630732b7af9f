#include "lameduck/readiness/readiness_server.hpp"

#include "lameduck/http/http_client.hpp"
#include "support/http_test_server.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <thread>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::HttpClient;
using lameduck::HttpRequest;
using lameduck::HttpResponse;
using lameduck::Logger;
using lameduck::parse_listen_address;
using lameduck::ReadinessServer;
using lameduck::ReadinessServerOptions;

namespace {

// A ReadinessServer on a free loopback port, serving on its own thread.
class RunningServer {
public:
  explicit RunningServer(ReadinessServerOptions options)
      : m_logger("readyz-toggle", lameduck::LogFormat::json, lameduck::LogLevel::debug,
                 [this](std::string_view line) {
                   const std::lock_guard lock(m_mutex);
                   m_log += line;
                 }),
        m_server((options.listen = "127.0.0.1:0", std::move(options)), m_logger) {
    m_port = m_server.bind().value().port;
    m_thread = std::thread([this] { m_server.serve(); });
  }
  ~RunningServer() {
    m_server.stop();
    m_thread.join();
  }

  HttpResponse send(const std::string& method, const std::string& target, const std::string& body = {}) const {
    HttpClient client(lameduck::parse_url("http://127.0.0.1:" + std::to_string(m_port)).value());
    HttpRequest request{.method = method, .target = target, .headers = {}, .body = body, .content_type = {}};
    if (!body.empty()) {
      request.content_type = "application/json";
    }
    return client.send(request, Deadline::after(5s)).value();
  }
  int port() const { return m_port; }
  std::string log() const {
    const std::lock_guard lock(m_mutex);
    return m_log;
  }

private:
  mutable std::mutex m_mutex;
  std::string m_log;
  Logger m_logger;
  ReadinessServer m_server;
  int m_port = 0;
  std::thread m_thread;
};

ReadinessServerOptions with_upstream(const std::string& url, lameduck::Duration timeout = 300ms) {
  ReadinessServerOptions options;
  options.upstream = lameduck::parse_url(url).value();
  options.upstream_timeout = timeout;
  return options;
}

} // namespace

TEST_CASE("parse_listen_address") {
  CHECK(parse_listen_address("[::]:7979").value().host == "::");
  CHECK(parse_listen_address("[::]:7979").value().port == 7979);
  CHECK(parse_listen_address("0.0.0.0:0").value().host == "0.0.0.0");
  CHECK(parse_listen_address(":7979").value().host == "::");
  CHECK(parse_listen_address("[::1]:80").value().host == "::1");
  CHECK_FALSE(parse_listen_address("7979"));
  CHECK_FALSE(parse_listen_address("::1:80"));
  CHECK_FALSE(parse_listen_address("127.0.0.1:65536"));
  CHECK_FALSE(parse_listen_address("127.0.0.1:http"));
}

TEST_CASE("ReadinessServer") {
  SUBCASE("the switch flips /readyz and says why") {
    const RunningServer server({});
    CHECK(server.send("GET", "/readyz").status == 200);
    CHECK(server.send("HEAD", "/readyz").status == 200);
    const auto off = server.send("POST", "/readyz/disable", R"({"reason":"disabled by prestop"})");
    CHECK(off.status == 200);
    CHECK(off.body.find(R"("ready":false,"reason":"disabled by prestop")") != std::string::npos);
    const auto probe = server.send("GET", "/readyz");
    CHECK(probe.status == 503);
    CHECK(probe.body == "not ready: disabled by prestop\n");
    CHECK(server.send("HEAD", "/readyz").status == 503);
    CHECK(server.send("GET", "/readyz/state").body.find(R"("ready":false)") != std::string::npos);
    CHECK(server.send("POST", "/readyz/enable").status == 200);
    CHECK(server.send("GET", "/readyz").status == 200);
    CHECK(server.log().find(R"("event":"readiness.changed")") != std::string::npos);
  }
  SUBCASE("livez, metrics, unknown paths and methods") {
    const RunningServer server({});
    CHECK(server.send("GET", "/livez").status == 200);
    const auto metrics = server.send("GET", "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.header("Content-Type").find("version=0.0.4") != std::string::npos);
    CHECK(metrics.body.find("lameduck_ready 1\n") != std::string::npos);
    CHECK(server.send("GET", "/nope").status == 404);
    CHECK(server.send("GET", "/readyz/disable").status == 405);
    CHECK(server.send("POST", "/readyz").status == 405);
  }
  SUBCASE("a switch body that is not {\"reason\":...} is refused and changes nothing") {
    const RunningServer server({});
    CHECK(server.send("POST", "/readyz/disable", "not json").status == 400);
    CHECK(server.send("POST", "/readyz/disable", R"({"reason":7})").status == 400);
    CHECK(server.send("POST", "/readyz/disable", std::string(8192, 'x')).status == 413);
    CHECK(server.send("GET", "/readyz").status == 200);
  }
  SUBCASE("--start not-ready") {
    ReadinessServerOptions options;
    options.start_ready = false;
    const RunningServer server(options);
    CHECK(server.send("GET", "/readyz").status == 503);
  }
  SUBCASE("the upstream decides while the switch is on") {
    int upstream_status = 200;
    const lameduck::test::HttpTestServer upstream([&upstream_status](httplib::Server& s) {
      s.Get("/healthz", [&upstream_status](const auto&, auto& response) { response.status = upstream_status; });
    });
    const RunningServer server(with_upstream(upstream.url("/healthz")));
    CHECK(server.send("GET", "/readyz").status == 200);
    upstream_status = 302; // the kubelet counts 200-399 as success
    CHECK(server.send("GET", "/readyz").status == 200);
    upstream_status = 500;
    const auto failing = server.send("GET", "/readyz");
    CHECK(failing.status == 503);
    CHECK(failing.body.find("answered 500") != std::string::npos);
    CHECK(server.log().find(R"("event":"upstream.failing")") != std::string::npos);
    CHECK(server.send("GET", "/metrics").body.find("lameduck_upstream_failures_total 1\n") != std::string::npos);
  }
  SUBCASE("a hung upstream costs the probe no more than --upstream-timeout") {
    lameduck::test::HttpTestServer* self = nullptr;
    lameduck::test::HttpTestServer upstream([&self](httplib::Server& s) {
      s.Get("/healthz", [&self](const auto&, auto&) { self->stall(30s); });
    });
    self = &upstream;
    const RunningServer server(with_upstream(upstream.url("/healthz"), 300ms));
    const auto started = Clock::now();
    CHECK(server.send("GET", "/readyz").status == 503);
    const auto took = Clock::now() - started;
    CHECK(took >= 300ms);
    CHECK(took < 300ms + 200ms);
  }
  SUBCASE("probes that arrive together share one upstream check, and the loop serves on meanwhile") {
    std::mutex mutex;
    std::condition_variable changed;
    int asked = 0;
    bool released = false;
    const lameduck::test::HttpTestServer upstream([&](httplib::Server& s) {
      s.Get("/healthz", [&](const auto&, auto&) {
        std::unique_lock lock(mutex);
        ++asked;
        changed.notify_all();
        changed.wait_for(lock, 10s, [&] { return released; });
      });
    });
    const RunningServer server(with_upstream(upstream.url("/healthz"), 20s));
    const std::string probe = "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const lameduck::test::TcpConnection first("127.0.0.1", server.port());
    first.send(probe);
    {
      std::unique_lock lock(mutex);
      REQUIRE(changed.wait_for(lock, 10s, [&] { return asked == 1; }));
    }
    // Two more probes while the check is in flight, and HEAD among them.
    const lameduck::test::TcpConnection second("127.0.0.1", server.port());
    second.send(probe);
    const lameduck::test::TcpConnection third("127.0.0.1", server.port());
    third.send("HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    // The loop is not waiting on the upstream: other requests are answered now.
    CHECK(server.send("GET", "/livez").status == 200);
    CHECK(server.send("GET", "/metrics").body.find("lameduck_ready 1\n") != std::string::npos);
    {
      const std::lock_guard lock(mutex);
      released = true;
    }
    changed.notify_all();
    CHECK(lameduck::test::raw_http_status(first.receive_all(Deadline::after(10s))) == 200);
    CHECK(lameduck::test::raw_http_status(second.receive_all(Deadline::after(10s))) == 200);
    const auto head = third.receive_all(Deadline::after(10s));
    CHECK(lameduck::test::raw_http_status(head) == 200);
    CHECK(head.ends_with("\r\n\r\n")); // HEAD: no body
    const std::lock_guard lock(mutex);
    CHECK(asked == 1);
  }
  SUBCASE("a POST with no body and no Content-Length flips the switch") {
    const RunningServer server({});
    const auto answer = lameduck::test::raw_http_exchange(
        "127.0.0.1", server.port(), "POST /readyz/disable HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Deadline::after(5s));
    CHECK(lameduck::test::raw_http_status(answer) == 200);
    CHECK(server.send("GET", "/readyz").status == 503);
  }
  SUBCASE("405 names the methods allowed; HEAD has no body") {
    const RunningServer server({});
    const auto not_allowed = server.send("DELETE", "/readyz");
    CHECK(not_allowed.status == 405);
    CHECK(not_allowed.header("Allow") == "GET, HEAD");
    CHECK(server.send("GET", "/readyz/enable").header("Allow") == "POST");
    const auto head = lameduck::test::raw_http_exchange(
        "127.0.0.1", server.port(), "HEAD /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Deadline::after(5s));
    CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
    CHECK(head.ends_with("\r\n\r\n"));
  }
  SUBCASE("an upstream that refuses connections makes /readyz 503") {
    const RunningServer server(with_upstream("http://127.0.0.1:" + std::to_string(lameduck::test::closed_port())));
    const auto probe = server.send("GET", "/readyz");
    CHECK(probe.status == 503);
    CHECK(probe.body.find("upstream") != std::string::npos);
  }
  SUBCASE("the switch off wins over a healthy upstream, without asking it") {
    int asked = 0;
    const lameduck::test::HttpTestServer upstream(
        [&asked](httplib::Server& s) { s.Get("/", [&asked](const auto&, auto&) { ++asked; }); });
    const RunningServer server(with_upstream(upstream.url("/")));
    server.send("POST", "/readyz/disable");
    CHECK(server.send("GET", "/readyz").status == 503);
    CHECK(asked == 0);
  }
}

// The real readyz-toggle binary, spoken to over loopback sockets the way the kubelet, prestop
// and misbehaving clients do.

#include "lameduck/core/durable_file.hpp"
#include "support/http_test_server.hpp"
#include "support/network_namespace.hpp"
#include "support/pests.hpp"
#include "support/readyz_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::raw_http_exchange;
using lameduck::test::raw_http_status;
using lameduck::test::ReadyzProcess;
using lameduck::test::run_process;
using lameduck::test::TcpConnection;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

// What the kubelet sends (pkg/probe/http/request.go): its own User-Agent and Accept: */*.
std::string kube_probe(const std::string& path = "/readyz", const std::string& method = "GET") {
  return method + " " + path +
         " HTTP/1.1\r\nHost: 10.0.0.7:7979\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

int probe_status(int port, const std::string& path = "/readyz", const std::string& method = "GET") {
  return raw_http_status(raw_http_exchange("127.0.0.1", port, kube_probe(path, method), Deadline::after(5s)));
}

std::string post(const std::string& path) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

lameduck::test::Finished client(const std::string& verb, const ReadyzProcess& server) {
  return run_process({tool_path("readyz-toggle"), verb, "--url", server.url()});
}

} // namespace

TEST_CASE("readyz-toggle serve and its client") {
  SUBCASE("off, status and on flip what the kubelet's probe sees") {
    ReadyzProcess server;
    CHECK(probe_status(server.port()) == 200);

    const auto off = client("off", server);
    CHECK(off.exit_code == 0);
    CHECK(off.stdout_text.find(R"("ready":false)") != std::string::npos);
    CHECK(probe_status(server.port()) == 503);
    CHECK(probe_status(server.port(), "/readyz", "HEAD") == 503);

    const auto status = client("status", server);
    CHECK(status.exit_code == 0);
    CHECK(status.stdout_text.find(R"("reason":"disabled by readyz-toggle off")") != std::string::npos);

    CHECK(client("on", server).exit_code == 0);
    CHECK(probe_status(server.port()) == 200);
    CHECK(probe_status(server.port(), "/readyz", "HEAD") == 200);
    CHECK(probe_status(server.port(), "/livez") == 200);
    CHECK(probe_status(server.port(), "/no/such/path") == 404);

    const auto metrics = raw_http_exchange("127.0.0.1", server.port(), kube_probe("/metrics"), Deadline::after(5s));
    CHECK(metrics.find(R"(lameduck_readiness_transitions_total{to="not_ready"} 1)") != std::string::npos);
    CHECK(metrics.find(R"(lameduck_readyz_requests_total{code="503"} 2)") != std::string::npos);
  }

  SUBCASE("the switch refuses a peer that is not on loopback, and changes nothing") {
    // The server in a namespace of its own, as in a pod; this process is another host.
    const lameduck::test::NetworkNamespace pod;
    ReadyzProcess server({}, "0.0.0.0:0", pod.command({tool_path("readyz-toggle")}));
    const auto remote = [&](const std::string& request) {
      return raw_http_status(raw_http_exchange(pod.inside_address(), server.port(), request, Deadline::after(5s),
                                               pod.outside_address()));
    };
    CHECK(remote(post("/readyz/disable")) == 403);
    CHECK(remote("GET /readyz/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 403);
    // The kubelet probes from the node, which is not loopback either: /readyz answers it.
    CHECK(remote(kube_probe()) == 200);
    CHECK(server.process().wait_for_event("switch.refused", Deadline::after(5s)));
    // Nothing changed, as a process of the pod sees it over its own loopback.
    const auto status = run_process(
        pod.command({tool_path("readyz-toggle"), "status", "--url", "http://127.0.0.1:" + std::to_string(server.port())}));
    CHECK(status.exit_code == 0);
    CHECK(status.stdout_text.find(R"("ready":true)") != std::string::npos);
  }

  SUBCASE("the switch survives a restart through --state-file") {
    const TempDir dir;
    const std::string state_file = dir.file("readiness.json");
    {
      ReadyzProcess server({"--state-file", state_file});
      CHECK(client("off", server).exit_code == 0);
    }
    ReadyzProcess restarted({"--state-file", state_file, "--start", "ready"});
    CHECK(probe_status(restarted.port()) == 503);
  }

  SUBCASE("a corrupt state file is reported and starts not ready") {
    const TempDir dir;
    const std::string state_file = dir.file("readiness.json");
    REQUIRE(lameduck::write_file_atomically(state_file, "{\"ready\":tru"));
    ReadyzProcess server({"--state-file", state_file});
    CHECK(server.process().wait_for_event("state.unusable", Deadline::after(5s)));
    CHECK(probe_status(server.port()) == 503);
  }

  SUBCASE("--upstream: healthy, failing and hung upstreams") {
    lameduck::test::HttpTestServer* self = nullptr;
    std::atomic<int> status{200}; // set here, read by the upstream's own threads
    lameduck::test::HttpTestServer upstream([&](httplib::Server& s) {
      s.Get("/healthz", [&status](const auto&, auto& response) { response.status = status.load(); });
      s.Get("/hang", [&self](const auto&, auto&) { self->stall(30s); });
    });
    self = &upstream;
    ReadyzProcess healthy({"--upstream", upstream.url("/healthz")});
    CHECK(probe_status(healthy.port()) == 200);
    status = 503;
    CHECK(probe_status(healthy.port()) == 503);

    ReadyzProcess hung({"--upstream", upstream.url("/hang"), "--upstream-timeout", "250ms"});
    const auto started = Clock::now();
    CHECK(probe_status(hung.port()) == 503);
    CHECK(Clock::now() - started < 250ms + lameduck::test::k_scheduling_slack);
  }

  SUBCASE("SIGTERM ends it within a second, even with clients holding connections") {
    ReadyzProcess server;
    const TcpConnection idle("127.0.0.1", server.port());
    const TcpConnection half_sent("127.0.0.1", server.port());
    half_sent.send("GET /readyz HTTP/1.1\r\nHost: x\r\n");
    const TcpConnection keep_alive("127.0.0.1", server.port());
    keep_alive.send("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw_http_status(keep_alive.receive_all(Deadline::after(200ms))) == 200);

    const auto signalled = Clock::now();
    server.process().send_signal(SIGTERM);
    const auto exit = server.process().wait_exit(Deadline::after(5s));
    CHECK(exit == 0);
    CHECK(Clock::now() - signalled < 1s);
  }
}

TEST_CASE("readyz-toggle keeps answering probes while clients misbehave") {
  ReadyzProcess server;

  SUBCASE("oversized headers are refused, and the next probe is answered") {
    const std::string huge = "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    const auto answer = raw_http_exchange("127.0.0.1", server.port(), huge, Deadline::after(5s));
    CHECK(raw_http_status(answer) != 200);
    CHECK(probe_status(server.port()) == 200);
  }
  SUBCASE("slow clients and garbage do not delay the kubelet's probe past its 1 s timeout") {
    std::vector<std::unique_ptr<TcpConnection>> pests;
    for (int i = 0; i < 10; ++i) {
      pests.push_back(std::make_unique<TcpConnection>("127.0.0.1", server.port()));
      pests.back()->send(i % 2 == 0 ? "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: " : "\x16\x03\x01garbage\r\n\r\n");
    }
    const auto started = Clock::now();
    CHECK(probe_status(server.port()) == 200);
    CHECK(Clock::now() - started < 500ms);
  }
}

// What an attacker on the pod network can do to the port the kubelet probes: hold hundreds of
// connections with request heads that never end (one byte every 0.5 s, inside any per-read
// timeout), reopening each one the server drops, and send garbage on a hundred more.
TEST_CASE("readyz-toggle answers every probe while 500 slow clients and 100 garbage senders hold its port") {
  ReadyzProcess server;
  lameduck::test::Pests pests(server.port(), {.slow_clients = 500, .garbage_clients = 100});
  REQUIRE(pests.wait_until_opened(600, Deadline::after(10s)));

  // The kubelet's schedule, faster: a probe every 200 ms for 8 s, each on a new connection.
  std::vector<lameduck::Duration> latencies;
  const auto start = Clock::now();
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_until(start + i * 200ms);
    const auto asked = Clock::now();
    CHECK(probe_status(server.port()) == 200);
    latencies.push_back(std::chrono::duration_cast<lameduck::Duration>(Clock::now() - asked));
  }
  // The server did drop slow clients (at their request deadline), and they came back.
  CHECK(pests.connections_dropped() > 0);
  CHECK(pests.connections_opened() > 600);

  std::sort(latencies.begin(), latencies.end());
  const auto ms = [](lameduck::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  CAPTURE(ms(latencies[latencies.size() / 2]));
  CAPTURE(ms(latencies[latencies.size() * 95 / 100 - 1]));
  CAPTURE(ms(latencies.back()));
  // The kubelet's default timeout is 1 s: every probe within it, nearly all far within it.
  CHECK(latencies.back() < 1s);
  CHECK(latencies[latencies.size() * 95 / 100 - 1] < 100ms);
}

TEST_CASE("readyz-toggle's switch takes a POST with no body and no Content-Length") {
  ReadyzProcess server;
  const auto answer = raw_http_exchange("127.0.0.1", server.port(),
                                        "POST /readyz/disable HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                        Deadline::after(5s));
  CHECK(raw_http_status(answer) == 200);
  CHECK(answer.find(R"("ready":false,"reason":"disabled")") != std::string::npos);
  CHECK(probe_status(server.port()) == 503);
}

TEST_CASE("readyz-toggle takes its flags from the environment too, and the flag wins over it") {
  const auto from_environment = run_process({tool_path("readyz-toggle"), "serve"},
                                            {.environment = {{"LAMEDUCK_UPSTREAM_TIMEOUT", "soon"}}});
  CHECK(from_environment.exit_code == 2);
  CHECK(from_environment.stderr_text.find("upstream-timeout") != std::string::npos);

  ReadyzProcess server({}, "127.0.0.1:0");
  const auto flag_wins = run_process({tool_path("readyz-toggle"), "status", "--url", server.url()},
                                     {.environment = {{"LAMEDUCK_URL", "http://127.0.0.1:1"}}});
  CHECK(flag_wins.exit_code == 0);
}

TEST_CASE("readyz-toggle off with no server exits 1 within its --timeout, saying why") {
  const auto started = Clock::now();
  const auto result = run_process({tool_path("readyz-toggle"), "off", "--timeout", "300ms", "--url",
                                   "http://127.0.0.1:" + std::to_string(lameduck::test::closed_port())});
  CHECK(result.exit_code == 1);
  CHECK(result.stderr_text.find("cannot reach") != std::string::npos);
  CHECK(Clock::now() - started < 2s);
}

TEST_CASE("readyz-toggle install copies the three tools") {
  const TempDir dir;
  const auto result = run_process({tool_path("readyz-toggle"), "install", dir.file("bin")});
  CHECK(result.exit_code == 0);
  for (const char* tool : {"prestop", "readyz-toggle", "drain-wait"}) {
    CAPTURE(tool);
    CHECK(run_process({dir.file("bin/") + tool, "--version"}).exit_code == 0);
  }
}

TEST_CASE("readyz-toggle's /metrics passes promtool check metrics") {
  ReadyzProcess server;
  client("off", server);
  const auto answer = raw_http_exchange("127.0.0.1", server.port(),
                                        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                        Deadline::after(5s));
  const auto body = answer.substr(answer.find("\r\n\r\n") + 4);
  const auto checked = run_process({"/usr/bin/promtool", "check", "metrics"},
                                   {.environment = {}, .working_directory = {}, .stdin_text = body});
  CAPTURE(checked.stdout_text);
  CAPTURE(checked.stderr_text);
  CHECK(checked.exit_code == 0);
}

// Under the sanitizer pass (ASan with LeakSanitizer), the exit after SIGTERM is where a leak
// from any of these exchanges would show: LeakSanitizer makes the exit code non-zero.
TEST_CASE("a long run of every kind of exchange ends clean") {
  TempDir dir;
  ReadyzProcess server({"--state-file", dir.file("state.json")});
  int answered = 0;
  for (int round = 0; round < 200; ++round) {
    answered += probe_status(server.port()) != 0;
    answered += probe_status(server.port(), "/readyz", "HEAD") != 0;
    answered += probe_status(server.port(), "/metrics") != 0;
    answered += probe_status(server.port(), "/readyz/state") != 0;
    answered += probe_status(server.port(), "/nowhere") != 0;
    answered += raw_http_status(raw_http_exchange("127.0.0.1", server.port(),
                                                  post(round % 2 == 0 ? "/readyz/disable" : "/readyz/enable"),
                                                  Deadline::after(5s))) != 0;
    const TcpConnection garbage("127.0.0.1", server.port());
    garbage.send("\x16\x03\x01 not HTTP at all\r\n\r\n");
  }
  CHECK(answered == 200 * 6);
  server.process().send_signal(SIGTERM);
  CHECK(server.process().wait_exit(Deadline::after(5s)) == 0);
}

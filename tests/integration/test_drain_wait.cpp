// The real drain-wait binary against the real demo agent and against agents that misbehave.

#include "support/agent_process.hpp"
#include "support/http_test_server.hpp"
#include "support/process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::AgentProcess;
using lameduck::test::Process;
using lameduck::test::run_process;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

std::vector<std::string> drain_wait(const std::string& drain_url, std::vector<std::string> flags = {}) {
  std::vector<std::string> argv{tool_path("drain-wait"), "--drain-url", drain_url, "--termination-id", "uid-1"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

// The "ms" drain-wait logged with its final event, measured from its own start.
long long logged_ms(const std::string& stderr_text, const std::string& event) {
  std::istringstream lines(stderr_text);
  for (std::string line; std::getline(lines, line);) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("event", "") == event) {
      return json.value("ms", -1LL);
    }
  }
  return -1;
}

} // namespace

TEST_CASE("drain-wait and the demo agent") {
  const TempDir dir;
  const std::string state_file = dir.file("agent.json");

  SUBCASE("drain, kill, restart: every accepted task is completed or in the flushed state") {
    std::set<std::string> accepted;
    {
      AgentProcess agent(state_file);
      for (int i = 0; i < 20; ++i) {
        const std::string id = "task-" + std::to_string(i);
        if (agent.submit(id) == 202) {
          accepted.insert(id);
        }
      }
      CHECK(accepted.size() == 20);
      const auto drained = run_process(drain_wait(agent.url("/drain")));
      CHECK(drained.exit_code == 0);
      CHECK(agent.submit("too-late") == 503);
      agent.process().send_signal(SIGKILL);
      agent.process().wait_exit(Deadline::after(5s));
    }
    AgentProcess restarted(state_file);
    CHECK(restarted.process().wait_for_event("state.loaded", Deadline::after(5s)));
    const auto tasks = restarted.tasks();
    for (const auto& id : accepted) {
      CAPTURE(id);
      CHECK(tasks.contains(id));
    }
  }
  SUBCASE("a repeated drain with the same key flushes once") {
    AgentProcess agent(state_file);
    agent.submit("a");
    CHECK(run_process(drain_wait(agent.url("/drain"))).exit_code == 0);
    CHECK(run_process(drain_wait(agent.url("/drain"))).exit_code == 0);
    CHECK(agent.logged("drain.flushed") == 1);
  }
  SUBCASE("an agent that never flushes: exit 1 before --timeout, having kept 100 ms to exit") {
    AgentProcess agent(state_file, {"--flush-time", "1h"});
    const auto result = run_process(drain_wait(agent.url("/drain"), {"--timeout", "600ms"}));
    CHECK(result.exit_code == 1);
    const auto ms = logged_ms(result.stderr_text, "drain.gave_up");
    CHECK(ms < 600);
    CHECK(ms >= 450);
  }
  SUBCASE("--connections-port waits for the agent's last connection to close") {
    AgentProcess agent(state_file);
    auto held = std::make_unique<lameduck::test::TcpConnection>("127.0.0.1", agent.port());
    Process waiting(drain_wait(agent.url("/drain"), {"--connections-port", std::to_string(agent.port())}));
    CHECK(waiting.wait_for_event("drain.connections_open", Deadline::after(5s)));
    held.reset();
    CHECK(waiting.wait_exit(Deadline::after(5s)) == 0);
    CHECK(waiting.wait_for_event("drain.connections_closed", Deadline::after(1s)));
  }
}

TEST_CASE("drain-wait against agents that do not drain") {
  SUBCASE("no drain endpoint: 0 with a warning, 1 with --if-missing fail") {
    const lameduck::test::HttpTestServer agent([](httplib::Server&) {});
    const auto lenient = run_process(drain_wait(agent.url("/drain")));
    CHECK(lenient.exit_code == 0);
    CHECK(lenient.stderr_text.find("drain.missing") != std::string::npos);
    CHECK(run_process(drain_wait(agent.url("/drain"), {"--if-missing", "fail"})).exit_code == 1);
  }
  SUBCASE("the agent is down: exit 1 within --timeout when it is shorter than the retry window") {
    const auto url = "http://127.0.0.1:" + std::to_string(lameduck::test::closed_port()) + "/drain";
    const auto started = Clock::now();
    CHECK(run_process(drain_wait(url, {"--timeout", "500ms"})).exit_code == 1);
    CHECK(Clock::now() - started < 1s);
  }
  SUBCASE("garbage answers: logged, survived, exit 1 at the deadline") {
    const lameduck::test::HttpTestServer agent([](httplib::Server& s) {
      s.Post("/drain", [](const auto&, auto& response) { response.status = 202; });
      s.Get("/drain", [](const auto&, auto& response) { response.set_content("\x01\xff{{{", "text/html"); });
    });
    const auto result = run_process(drain_wait(agent.url("/drain"), {"--timeout", "500ms"}));
    CHECK(result.exit_code == 1);
    CHECK(result.stderr_text.find("drain.status_invalid") != std::string::npos);
  }
}

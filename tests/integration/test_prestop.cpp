// prestop end to end, as the real binary against real processes: readyz-toggle, the demo
// agent, and the fake kube-apiserver over TLS with the EndpointSlice controller's behaviour.

#include "lameduck/core/durable_file.hpp"
#include "support/agent_process.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/readyz_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"
#include "support/termination_log.hpp"

#include <doctest/doctest.h>

#include <future>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::endpoint_entry;
using lameduck::test::FakeApiServer;
using lameduck::test::k_namespace;
using lameduck::test::k_pod_ipv4;
using lameduck::test::k_pod_ipv6;
using lameduck::test::k_pod_name;
using lameduck::test::k_pod_uid;
using lameduck::test::AgentProcess;
using lameduck::test::ReadyzProcess;
using lameduck::test::run_process;
using lameduck::test::slice_object;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

// A pod with its readiness sidecar and its agent, in the fake cluster.
struct Pod {
  explicit Pod(std::vector<std::string> agent_flags = {}) : agent(dir.file("agent.json"), std::move(agent_flags)) {
    api.put("pods", lameduck::test::pod_object());
    api.put("endpointslices", slice_object("ledger-agent-v4", "ledger-agent", "IPv4", {endpoint_entry(k_pod_ipv4, k_pod_uid)}));
    api.put("endpointslices", slice_object("ledger-agent-v6", "ledger-agent", "IPv6", {endpoint_entry(k_pod_ipv6, k_pod_uid)}));
  }

  std::vector<std::string> prestop_argv(std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv{tool_path("prestop"),
                                  "--kube-api", api.url(), "--kube-token-file", api.token_file(), "--kube-ca-file", api.ca_file(),
                                  "--readyz-url", readyz.url(), "--drain-url", agent.url("/drain"),
                                  "--service", "ledger-agent", "--min-delay", "100ms",
                                  "--state-dir", dir.file("state"), "--termination-log", dir.file("termination-log"),
                                  "--container-stdout", ""};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  lameduck::test::ProcessOptions environment() const {
    return {.environment = {{"POD_NAME", k_pod_name}, {"POD_NAMESPACE", k_namespace}, {"POD_UID", k_pod_uid},
                            {"POD_IPS", std::string(k_pod_ipv4) + "," + k_pod_ipv6}},
            .working_directory = {},
            .stdin_text = {}};
  }
  nlohmann::json summary() const { return lameduck::test::read_termination_summary(dir.file("termination-log")); }
  nlohmann::json phase(std::string_view name) const {
    const auto phases = summary()["phases"];
    for (const auto& phase : phases)
      if (phase.value("phase", "") == name) return phase;
    return nlohmann::json::object();
  }

  TempDir dir;
  FakeApiServer api;
  ReadyzProcess readyz;
  AgentProcess agent;
};

int probe(const ReadyzProcess& readyz) {
  return lameduck::test::raw_http_status(lameduck::test::raw_http_exchange(
      "127.0.0.1", readyz.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Deadline::after(5s)));
}

} // namespace

TEST_CASE("prestop end to end") {
  SUBCASE("a deletion: readiness off, the endpoint gone, the agent drained, one summary, one event") {
    Pod pod;
    // The deletion, and the EndpointSlice controller's reaction once prestop's watch is open:
    // the LIST still shows the pod ready, the WATCH sees it leave, however slow the start.
    pod.api.mark_deleted(k_namespace, k_pod_name, 30);
    pod.api.on_watch([&pod](const std::string&) { pod.api.set_pod_endpoints(k_pod_uid, false, true, true); });
    const auto started = Clock::now();
    const auto result = run_process(pod.prestop_argv({"--event"}), pod.environment());
    CAPTURE(result.stderr_text);
    CHECK(result.exit_code == 0);
    CHECK(Clock::now() - started < 5s);
    CHECK(probe(pod.readyz) == 503);
    const auto summary = pod.summary();
    CHECK(summary["outcome"] == "drained");
    CHECK(summary["deadlineFrom"] == "deletionTimestamp");
    CHECK(pod.agent.logged("drain.started") == 1);
    CHECK(pod.api.requests("get") == 1);
    CHECK(pod.api.requests("list") == 1);
    CHECK(pod.api.requests("watch") == 1);
    CHECK(pod.api.requests("create") == 1);
    const auto agent_state = nlohmann::json::parse(lameduck::read_small_file(pod.dir.file("agent.json")).value().content);
    CHECK(agent_state["terminationId"] == k_pod_uid);
  }
  SUBCASE("a shortened grace period: the deletionTimestamp sets the deadline, and prestop is out before it") {
    Pod pod({"--flush-time", "1h"});
    pod.api.delete_pod(k_namespace, k_pod_name, 4, 100ms);
    const auto started = Clock::now();
    const auto result = run_process(pod.prestop_argv({"--grace-period", "30s", "--margin", "1s"}), pod.environment());
    CHECK(result.exit_code == 1);
    CHECK(Clock::now() - started < 4s);
    const auto summary = pod.summary();
    CHECK(summary["deadlineFrom"] == "deletionTimestamp");
    CHECK(summary["outcome"] == "gave_up");
  }
  SUBCASE("the API is down: --fallback-delay instead of the watch, the drain still runs") {
    Pod pod;
    auto argv = pod.prestop_argv({"--fallback-delay", "500ms", "--grace-period", "10s"});
    argv[2] = "https://127.0.0.1:" + std::to_string(lameduck::test::closed_port());
    const auto started = Clock::now();
    const auto result = run_process(argv, pod.environment());
    CHECK(result.exit_code == 1); // a phase gave up
    CHECK(Clock::now() - started >= 500ms);
    CHECK(result.stderr_text.find("endpoints.fallback") != std::string::npos);
    CHECK(pod.agent.logged("drain.started") == 1);
    CHECK(pod.phase("drain")["outcome"] == "done");
  }
  SUBCASE("an agent that never flushes: prestop exits 1 before its deadline") {
    Pod pod({"--flush-time", "1h"});
    pod.api.delete_pod(k_namespace, k_pod_name, 30, 100ms);
    const auto started = Clock::now();
    const auto result = run_process(pod.prestop_argv({"--grace-period", "3s", "--margin", "500ms"}), pod.environment());
    const auto took = Clock::now() - started;
    CHECK(result.exit_code == 1);
    // Its own clock, from its start: the report is written before the 2.5 s deadline...
    const auto summary = pod.summary();
    CHECK(summary["ms"].get<long long>() < 2500);
    CHECK(summary["ms"].get<long long>() > 2000);
    // ...and the process is gone soon after, exec and exit included (slower when sanitized).
    CHECK(took < 2500ms + 500ms);
  }
  SUBCASE("two deliveries at once: one drain, both succeed") {
    Pod pod;
    pod.api.delete_pod(k_namespace, k_pod_name, 30, 300ms);
    auto first = std::async(std::launch::async, [&] { return run_process(pod.prestop_argv(), pod.environment()); });
    auto second = std::async(std::launch::async, [&] { return run_process(pod.prestop_argv(), pod.environment()); });
    CHECK(first.get().exit_code == 0);
    CHECK(second.get().exit_code == 0);
    CHECK(pod.agent.logged("drain.started") == 1);
    const auto third = run_process(pod.prestop_argv(), pod.environment());
    CHECK(third.exit_code == 0);
    CHECK(third.stderr_text.find("prestop.repeated") != std::string::npos);
  }
}

TEST_CASE("prestop --plan") {
  const auto plan = run_process({tool_path("prestop"), "--plan", "--grace-period", "45s", "--drain-url",
                                 "http://127.0.0.1:8080/drain"},
                                {.environment = {{"KUBERNETES_SERVICE_HOST", ""}}, .working_directory = {}, .stdin_text = {}});
  CHECK(plan.exit_code == 0);
  CHECK(plan.stdout_text.find("deadline 42s after start") != std::string::npos);
}

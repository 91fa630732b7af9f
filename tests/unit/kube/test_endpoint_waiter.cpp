#include "lameduck/kube/endpoint_waiter.hpp"

#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/log_lines.hpp"
#include "support/quiet_logger.hpp"
#include "support/sockets.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <future>
#include <tuple>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::EndpointVerdict;
using lameduck::KubeClient;
using lameduck::test::ApiFault;
using lameduck::test::endpoint_entry;
using lameduck::test::FakeApiServer;
using lameduck::test::k_pod_ipv4;
using lameduck::test::k_pod_ipv6;
using lameduck::test::k_pod_uid;
using lameduck::test::slice_object;
using lameduck::test::k_quiet;

namespace {

struct Fixture {
  Fixture() : client(config(api.url()), k_quiet) {
    api.put("pods", lameduck::test::pod_object());
    api.put("endpointslices", slice_object("ledger-agent-v4", "ledger-agent", "IPv4",
                                           {endpoint_entry("10.0.3.17", "other-pod"), endpoint_entry(k_pod_ipv4, k_pod_uid)}));
    api.put("endpointslices", slice_object("ledger-agent-v6", "ledger-agent", "IPv6", {endpoint_entry(k_pod_ipv6, k_pod_uid)}));
    api.put("endpointslices", slice_object("ledger-agent-empty", "ledger-agent", "IPv4", nullptr));
  }
  lameduck::KubeConfig config(const std::string& url) const {
    return {lameduck::parse_url(url).value(), api.token_file(), api.ca_file()};
  }
  lameduck::EndpointWaitResult wait(lameduck::Duration budget, std::vector<std::string> services = {"ledger-agent"},
                                    const lameduck::Logger& logger = k_quiet) {
    const lameduck::EndpointWaitRequest request{lameduck::test::k_namespace, std::move(services),
                                                {k_pod_uid, {k_pod_ipv4, k_pod_ipv6}}};
    return lameduck::wait_until_endpoint_not_ready(client, request, Deadline::after(budget), logger);
  }
  std::future<lameduck::EndpointWaitResult> wait_async(lameduck::Duration budget,
                                                       std::vector<std::string> services = {"ledger-agent"},
                                                       const lameduck::Logger& logger = k_quiet) {
    return std::async(std::launch::async,
                      [this, budget, services, &logger] { return wait(budget, services, logger); });
  }
  // Blocks until the waiter's watch is open, so a change lands in it rather than in the list.
  void until_watching(int watches = 1) const {
    REQUIRE(api.wait_for_requests("watch", watches, Deadline::after(10s)));
  }

  FakeApiServer api;
  KubeClient client;
};

} // namespace

TEST_CASE("wait_until_endpoint_not_ready") {
  Fixture f;

  SUBCASE("a deletion: one LIST and one WATCH, the verdict as soon as both families turn not ready") {
    auto waiting = f.wait_async(10s);
    f.until_watching();
    const auto deleted_at = Clock::now();
    f.api.delete_pod(lameduck::test::k_namespace, lameduck::test::k_pod_name, 30, 50ms);
    const auto result = waiting.get();
    CHECK(result.verdict == EndpointVerdict::not_ready);
    CHECK(Clock::now() - deleted_at < 50ms + 500ms);
    CHECK(f.api.requests("list") == 1);
    CHECK(f.api.requests("watch") == 1);
  }
  SUBCASE("already out: the LIST alone answers") {
    f.api.set_pod_endpoints(k_pod_uid, false, true, true);
    CHECK(f.wait(5s).verdict == EndpointVerdict::not_ready);
    CHECK(f.api.requests("watch") == 0);
    CHECK(f.wait(5s, {"no-such-service"}).verdict == EndpointVerdict::not_ready);
  }
  SUBCASE("no service given: every slice in the namespace that lists the pod") {
    f.api.put("endpointslices", slice_object("admin-x", "admin", "IPv4", {endpoint_entry(k_pod_ipv4, k_pod_uid)}));
    const lameduck::test::LogLines log;
    auto waiting = f.wait_async(10s, {}, log.logger());
    f.until_watching();
    f.api.put("endpointslices", slice_object("ledger-agent-v4", "ledger-agent", "IPv4", nlohmann::json::array()));
    f.api.remove("endpointslices", lameduck::test::k_namespace, "ledger-agent-v6");
    // Both changes seen, and admin-x still sends traffic: no verdict yet.
    REQUIRE(log.wait_for(R"("ready_in":"admin-x")", Deadline::after(10s)));
    CHECK(waiting.wait_for(0s) == std::future_status::timeout);
    f.api.put("endpointslices", slice_object("admin-x", "admin", "IPv4", {endpoint_entry(k_pod_ipv4, k_pod_uid, false)}));
    CHECK(waiting.get().verdict == EndpointVerdict::not_ready);
  }
  SUBCASE("several services, and a slice created during the watch") {
    f.api.put("endpointslices", slice_object("admin-x", "admin", "IPv4", {endpoint_entry(k_pod_ipv4, k_pod_uid)}));
    const lameduck::test::LogLines log;
    auto waiting = f.wait_async(10s, {"ledger-agent", "admin"}, log.logger());
    f.until_watching();
    f.api.put("endpointslices", slice_object("admin-y", "admin", "IPv6", {endpoint_entry(k_pod_ipv6, k_pod_uid)}));
    for (const auto& [name, service, family] : {std::tuple{"ledger-agent-v4", "ledger-agent", "IPv4"},
                                                {"ledger-agent-v6", "ledger-agent", "IPv6"}, {"admin-x", "admin", "IPv4"}}) {
      f.api.put("endpointslices", slice_object(name, service, family, {endpoint_entry(k_pod_ipv4, k_pod_uid, false)}));
    }
    // Every other slice seen not ready, and admin-y, created during the watch, still ready.
    REQUIRE(log.wait_for(R"("ready_in":"admin-y")", Deadline::after(10s)));
    CHECK(waiting.wait_for(0s) == std::future_status::timeout);
    f.api.remove("endpointslices", lameduck::test::k_namespace, "admin-y");
    CHECK(waiting.get().verdict == EndpointVerdict::not_ready);
  }
  SUBCASE("410 in the middle of the watch: relists and carries on") {
    f.api.inject("watch", ApiFault::gone);
    auto waiting = f.wait_async(10s);
    f.until_watching(2);
    f.api.set_pod_endpoints(k_pod_uid, false, true, true);
    CHECK(waiting.get().verdict == EndpointVerdict::not_ready);
    CHECK(f.api.requests("list") == 2);
  }
  SUBCASE("a watch that breaks (reset, garbage, truncated JSON, 500, 429) is resumed") {
    for (const ApiFault fault :
         {ApiFault::reset, ApiFault::garbage, ApiFault::truncated_json, ApiFault::server_error, ApiFault::throttle}) {
      CAPTURE(static_cast<int>(fault));
      Fixture g;
      g.api.inject("watch", fault);
      g.api.put("endpointslices", slice_object("spare", "ledger-agent", "IPv4", nlohmann::json::array()));
      auto waiting = g.wait_async(10s);
      g.until_watching(2);
      g.api.set_pod_endpoints(k_pod_uid, false, true, true);
      CHECK(waiting.get().verdict == EndpointVerdict::not_ready);
    }
  }
  SUBCASE("still ready at the deadline: timeout, within 50 ms of it, even with a hung or dripping watch") {
    for (const auto fault : {std::optional<ApiFault>(), std::optional(ApiFault::hang), std::optional(ApiFault::slow_drip)}) {
      Fixture g;
      if (fault) {
        g.api.inject("watch", *fault);
        g.api.put("endpointslices", slice_object("spare", "ledger-agent", "IPv4", nlohmann::json::array()));
      }
      const auto started = Clock::now();
      const auto result = g.wait(500ms);
      CHECK(result.verdict == EndpointVerdict::timeout);
      CHECK(Clock::now() - started < 500ms + k_scheduling_slack);
    }
  }
  SUBCASE("forbidden or unreachable: api_unusable at once, saying why") {
    f.api.allow_token(FakeApiServer::k_token, {"get pods"});
    const auto forbidden = f.wait(5s);
    CHECK(forbidden.verdict == EndpointVerdict::api_unusable);
    CHECK(forbidden.reason.find("endpointslices") != std::string::npos);

    KubeClient nowhere(f.config("https://127.0.0.1:" + std::to_string(lameduck::test::closed_port())), k_quiet);
    const auto started = Clock::now();
    const auto unreachable = lameduck::wait_until_endpoint_not_ready(
        nowhere, {lameduck::test::k_namespace, {}, {k_pod_uid, {}}}, Deadline::after(2s), k_quiet);
    CHECK(unreachable.verdict == EndpointVerdict::api_unusable);
    CHECK(Clock::now() - started < 2s + k_scheduling_slack);
  }
}

TEST_CASE("wait_until_endpoint_not_ready at scale: 5,000 endpoints in 50 slices") {
  FakeApiServer api;
  for (int s = 0; s < 50; ++s) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (int e = 0; e < 100; ++e) {
      const int n = s * 100 + e;
      endpoints.push_back(endpoint_entry("10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250),
                                         n == 4242 ? k_pod_uid : "pod-" + std::to_string(n)));
    }
    api.put("endpointslices", slice_object("big-" + std::to_string(s), "big", "IPv4", std::move(endpoints)));
  }
  KubeClient client({lameduck::parse_url(api.url()).value(), api.token_file(), api.ca_file()}, k_quiet);
  auto waiting = std::async(std::launch::async, [&] {
    return lameduck::wait_until_endpoint_not_ready(client, {lameduck::test::k_namespace, {"big"}, {k_pod_uid, {}}},
                                                   Deadline::after(20s), k_quiet);
  });
  REQUIRE(api.wait_for_requests("watch", 1, Deadline::after(20s)));
  const auto changed_at = Clock::now();
  api.set_pod_endpoints(k_pod_uid, false, true, true);
  const auto result = waiting.get();
  const auto reaction = std::chrono::duration<double, std::milli>(Clock::now() - changed_at).count();
  CHECK(result.verdict == EndpointVerdict::not_ready);
  MESSAGE("5,000 endpoints: verdict " << reaction << " ms after the change, " << client.bytes_read()
                                      << " bytes read in " << client.requests() << " requests, "
                                      << std::chrono::duration<double, std::milli>(result.elapsed).count()
                                      << " ms in all");
}

#include "lameduck/kube/kube_client.hpp"
#include "lameduck/kube/kube_pod.hpp"

#include "lameduck/core/durable_file.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/quiet_logger.hpp"
#include "support/temp_dir.hpp"
#include "support/test_tls.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::KubeClient;
using lameduck::KubeErrorKind;
using lameduck::test::ApiFault;
using lameduck::test::FakeApiServer;
using lameduck::test::k_quiet;

namespace {

const lameduck::KubeAccess k_list{"list", "endpointslices.discovery.k8s.io"};
const std::string k_slices = "/apis/discovery.k8s.io/v1/namespaces/payments/endpointslices";

KubeClient client_for(const FakeApiServer& api, const std::string& token_file = {}) {
  lameduck::KubeConfig config{lameduck::parse_url(api.url()).value(),
                              token_file.empty() ? api.token_file() : token_file, api.ca_file()};
  lameduck::KubeClientOptions options;
  options.page_size = 2;
  return KubeClient(config, k_quiet, options);
}

void add_slices(FakeApiServer& api, int count) {
  for (int i = 0; i < count; ++i) {
    api.put("endpointslices", lameduck::test::slice_object("ledger-agent-" + std::to_string(i), "ledger-agent", "IPv4",
                                                           nlohmann::json::array()));
  }
  api.put("endpointslices", lameduck::test::slice_object("other-0", "other", "IPv4", nullptr));
}

} // namespace

TEST_CASE("KubeClient") {
  FakeApiServer api;
  KubeClient client = client_for(api);

  SUBCASE("GET an object, and a Status 404 as not_found") {
    api.put("pods", lameduck::test::pod_object());
    const auto pod = client.get("/api/v1/namespaces/payments/pods/ledger-agent-5c9b7d8f6-qwz4t", {"get", "pods"},
                                Deadline::after(5s));
    REQUIRE(pod);
    CHECK((*pod)["kind"] == "Pod");
    const auto missing = client.get("/api/v1/namespaces/payments/pods/nope", {"get", "pods"}, Deadline::after(5s));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == KubeErrorKind::not_found);
  }
  SUBCASE("LIST follows continue tokens and filters by label selector") {
    add_slices(api, 5);
    const auto all = client.list(k_slices, "", k_list, Deadline::after(5s));
    REQUIRE(all);
    CHECK(all->items.size() == 6);
    CHECK(all->resource_version == api.resource_version());
    CHECK(api.requests("list") == 3);
    CHECK(client.list(k_slices, "kubernetes.io/service-name=ledger-agent", k_list, Deadline::after(5s))->items.size() == 5);
    CHECK(client.list(k_slices, "kubernetes.io/service-name in (other, nothing)", k_list, Deadline::after(5s))
              ->items.size() == 1);
  }
  SUBCASE("WATCH from a resourceVersion sees what changed after it, and 410 when compacted") {
    add_slices(api, 1);
    const std::string version = api.resource_version();
    api.put("endpointslices", lameduck::test::slice_object("late", "ledger-agent", "IPv4", nlohmann::json::array()));
    std::vector<std::string> seen;
    const auto watched = client.watch(k_slices, "", version, 1s, {"watch", "endpointslices"}, Deadline::after(5s),
                                      [&seen](const lameduck::WatchEvent& event) {
                                        seen.push_back(event.type + " " + event.object["metadata"].value("name", ""));
                                        return false;
                                      });
    CHECK(watched);
    CHECK(seen == std::vector<std::string>{"ADDED late"});

    api.compact();
    const auto expired = client.watch(k_slices, "", version, 1s, {"watch", "endpointslices"}, Deadline::after(5s),
                                      [](const auto&) { return true; });
    REQUIRE_FALSE(expired);
    CHECK(expired.error().kind == KubeErrorKind::gone);
  }
  SUBCASE("a watch ends normally after timeoutSeconds, with a bookmark") {
    std::vector<std::string> types;
    const auto started = Clock::now();
    const auto watched = client.watch(k_slices, "", api.resource_version(), 1s, {"watch", "endpointslices"},
                                      Deadline::after(5s), [&types](const lameduck::WatchEvent& event) {
                                        types.push_back(event.type);
                                        return true;
                                      });
    CHECK(watched);
    CHECK(Clock::now() - started >= 1s);
    CHECK(types == std::vector<std::string>{"BOOKMARK"});
  }
  SUBCASE("429 with Retry-After and 500 are retried; the answer then comes") {
    add_slices(api, 1);
    api.inject("list", ApiFault::throttle, 1, 1);
    api.inject("list", ApiFault::server_error, 1);
    const auto started = Clock::now();
    const auto list = client.list(k_slices, "", k_list, Deadline::after(10s));
    REQUIRE(list);
    CHECK(Clock::now() - started >= 1s); // Retry-After: 1 was honoured
    CHECK(api.requests("list") == 3);
  }
  SUBCASE("a Retry-After past the deadline ends the call at once, as throttled") {
    api.inject("list", ApiFault::throttle, 1, 30);
    const auto started = Clock::now();
    const auto list = client.list(k_slices, "", k_list, Deadline::after(2s));
    REQUIRE_FALSE(list);
    CHECK(list.error().kind == KubeErrorKind::throttled);
    CHECK(Clock::now() - started < 1s);
  }
  SUBCASE("401 and 403 give up at once, naming the RBAC rule") {
    api.allow_token(FakeApiServer::k_token, {"get pods"});
    const auto forbidden = client.list(k_slices, "", k_list, Deadline::after(5s));
    REQUIRE_FALSE(forbidden);
    CHECK(forbidden.error().kind == KubeErrorKind::forbidden);
    CHECK(forbidden.error().message.find("\"list\" on endpointslices.discovery.k8s.io") != std::string::npos);
    CHECK(forbidden.error().message.find(FakeApiServer::k_token) == std::string::npos);

  }
  SUBCASE("401: the token file is read again (it may have rotated), then unauthorized") {
    const lameduck::test::TempDir dir;
    REQUIRE(lameduck::write_file_atomically(dir.file("token"), "expired-token\n"));
    KubeClient rotated = client_for(api, dir.file("token"));
    const auto refused = rotated.list(k_slices, "", k_list, Deadline::after(5s));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == KubeErrorKind::unauthorized);
    CHECK(rotated.requests() == 2);
    REQUIRE(lameduck::write_file_atomically(dir.file("token"), std::string(FakeApiServer::k_token) + "\n"));
    CHECK(rotated.list(k_slices, "", k_list, Deadline::after(5s)));
  }
  SUBCASE("hostile answers are errors, never a crash or a hang past the deadline") {
    for (const ApiFault fault : {ApiFault::garbage, ApiFault::truncated_json, ApiFault::reset, ApiFault::hang,
                                 ApiFault::slow_drip}) {
      CAPTURE(static_cast<int>(fault));
      add_slices(api, 3);
      api.inject("list", fault);
      const auto started = Clock::now();
      const auto list = client.list(k_slices, "", k_list, Deadline::after(300ms));
      CHECK(Clock::now() - started < 300ms + k_scheduling_slack);
      if (fault != ApiFault::reset) {
        CHECK_FALSE(list);
      }
    }
  }
}

TEST_CASE("read_own_pod") {
  FakeApiServer api;
  KubeClient client = client_for(api);
  auto pod = lameduck::test::pod_object();
  // Two containers' TCP ports, each once; UDP and the init containers' (sidecars') left out.
  pod["spec"]["containers"] = {
      {{"name", "agent"}, {"ports", {{{"containerPort", 8080}}, {{"containerPort", 9090}, {"protocol", "TCP"}},
                                     {{"containerPort", 5353}, {"protocol", "UDP"}}}}},
      {{"name", "proxy"}, {"ports", {{{"containerPort", 8080}}, {{"containerPort", 443}}, {{"containerPort", "x"}}}}}};
  pod["spec"]["initContainers"] = {{{"name", "readyz"}, {"ports", {{{"containerPort", 7979}}}}}};
  api.put("pods", pod);
  const auto before = lameduck::read_own_pod(client, "payments", lameduck::test::k_pod_name, Deadline::after(5s));
  REQUIRE(before);
  CHECK_FALSE(before->deletion_timestamp);
  CHECK(before->serving_ports == std::vector<int>{443, 8080, 9090});

  const auto deleted_at = lameduck::WallClock::now();
  api.delete_pod("payments", lameduck::test::k_pod_name, 5, 1h);
  const auto after = lameduck::read_own_pod(client, "payments", lameduck::test::k_pod_name, Deadline::after(5s));
  REQUIRE(after);
  REQUIRE(after->deletion_timestamp);
  CHECK(after->deletion_grace_period_seconds == 5);
  // Whole seconds, so up to a second earlier than deleted_at + 5 s.
  CHECK(*after->deletion_timestamp > deleted_at + 3s);
  CHECK(*after->deletion_timestamp <= deleted_at + 5s);
  CHECK(lameduck::read_own_pod(client, "payments", "gone", Deadline::after(5s)).error().kind ==
        KubeErrorKind::not_found);

  api.put("pods", lameduck::test::pod_object()); // no ports declared
  CHECK(lameduck::read_own_pod(client, "payments", lameduck::test::k_pod_name, Deadline::after(5s))->serving_ports.empty());
}

TEST_CASE("KubeClient verifies the API's certificate") {
  FakeApiServer api;
  const lameduck::test::TempDir dir;
  // A CA that did not sign the server's certificate: the fake's own certificate will do.
  REQUIRE(lameduck::write_file_atomically(dir.file("other-ca.crt"),
                                          lameduck::read_small_file(lameduck::test::test_certificates().cert_file)
                                              .value()
                                              .content));
  KubeClient client(lameduck::KubeConfig{lameduck::parse_url(api.url()).value(), api.token_file(), dir.file("other-ca.crt")},
                    k_quiet);
  const auto listed = client.list(k_slices, "", k_list, Deadline::after(5s));
  REQUIRE_FALSE(listed);
  CHECK(listed.error().kind == KubeErrorKind::unreachable);
  CHECK(listed.error().message.find("is not signed by the trusted CA") != std::string::npos);
  CHECK(api.requests("list") == 0); // nothing was sent, the token included
}

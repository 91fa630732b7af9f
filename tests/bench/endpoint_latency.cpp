// How soon prestop knows the pod is out of its Services: the time from the EndpointSlice
// change on the (fake, TLS, loopback) API server to the waiter's verdict, and what it cost in
// requests and bytes, for a small Service and for 5,000 endpoints in 50 slices; beside the
// baseline it replaces, the fixed `preStop: sleep 15`.
//
//   endpoint-latency [RUNS]      (./dev bench)

#include "lameduck/endpoint_waiter.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"

#include <algorithm>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::endpoint_entry;
using lameduck::test::FakeApiServer;
using lameduck::test::k_pod_uid;
using lameduck::test::slice_object;

namespace {

const lameduck::Logger k_quiet("prestop", lameduck::LogFormat::json, lameduck::LogLevel::error, [](std::string_view) {});

struct Run {
  double reaction_ms;
  int requests;
  long long bytes;
};

Run one_wait(int slices, int endpoints_per_slice) {
  FakeApiServer api;
  for (int s = 0; s < slices; ++s) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (int e = 0; e < endpoints_per_slice; ++e) {
      const int n = s * endpoints_per_slice + e;
      endpoints.push_back(endpoint_entry("10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250),
                                         n == slices * endpoints_per_slice / 2 ? k_pod_uid : "pod-" + std::to_string(n)));
    }
    api.put("endpointslices", slice_object("svc-" + std::to_string(s), "svc", "IPv4", std::move(endpoints)));
  }
  lameduck::KubeClient client({lameduck::parse_url(api.url()).value(), api.token_file(), api.ca_file()}, k_quiet);
  auto waiting = std::async(std::launch::async, [&] {
    return lameduck::wait_until_endpoint_not_ready(client, {lameduck::test::k_namespace, {"svc"}, {k_pod_uid, {}}},
                                                   Deadline::after(30s), k_quiet);
  });
  while (api.requests("watch") < 1) {
    std::this_thread::yield();
  }
  const auto changed_at = Clock::now();
  api.set_pod_endpoints(k_pod_uid, false, true, true);
  const auto result = waiting.get();
  const double reaction = std::chrono::duration<double, std::milli>(Clock::now() - changed_at).count();
  if (result.verdict != lameduck::EndpointVerdict::not_ready) {
    std::fprintf(stderr, "unexpected verdict: %s\n", result.reason.c_str());
    std::exit(1);
  }
  return {reaction, client.requests(), client.bytes_read()};
}

void report(const char* name, int runs, int slices, int per_slice) {
  std::vector<Run> samples;
  for (int i = 0; i < runs; ++i) {
    samples.push_back(one_wait(slices, per_slice));
  }
  std::vector<double> ms;
  for (const auto& sample : samples) {
    ms.push_back(sample.reaction_ms);
  }
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (const double value : ms) {
    mean += value / static_cast<double>(ms.size());
  }
  const double baseline = 15000;
  const auto percentile = [&ms](double q) { return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1) + 0.5)]; };
  std::printf("%-30s %8.2f %8.2f %8.2f %9d %11lld %11.0fx\n", name, mean, percentile(0.5), percentile(0.95),
              samples.front().requests, samples.front().bytes, baseline / mean);
}

} // namespace

int main(int argc, char* argv[]) {
  const int runs = argc > 1 ? std::stoi(argv[1]) : 20;
  std::printf("EndpointSlice change -> verdict, %d waits each (TLS, loopback)\n\n", runs);
  std::printf("%-30s %8s %8s %8s %9s %11s %12s\n", "service", "mean ms", "p50 ms", "p95 ms", "requests", "bytes read",
              "vs sleep 15");
  report("3 endpoints in 1 slice", runs, 1, 3);
  report("5,000 endpoints in 50 slices", std::max(1, runs / 2), 50, 100);
  std::printf("\nbaseline: preStop `sleep 15` waits 15000 ms whatever the slices say.\n");
  return 0;
}

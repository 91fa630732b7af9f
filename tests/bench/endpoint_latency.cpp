// How soon prestop knows the pod is out of its Services, and what that costs the API server:
//  - the time from the EndpointSlice change on the (fake, TLS, loopback) API server to the
//    waiter's verdict, with the requests and bytes of one termination, for a Service of 10
//    endpoints and of 5,000 in 50 slices; beside the fixed `preStop: sleep 15` it replaces;
//  - a rolling update of 200 pods, 50 terminating at once (maxSurge 25%): the peak of
//    concurrent watches and the total requests and bytes the API server serves.
// Writes api-cost.json to the output directory.
//
//   endpoint-latency [OUTPUT_DIR] [RUNS]      (./dev bench)

#include "lameduck/kube/endpoint_waiter.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/quiet_logger.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
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
using lameduck::test::k_quiet;

namespace {

// Spins until the API server has received `count` WATCH requests: the change must come after
// the watches are open, and spinning keeps the measured reaction free of wake-up delays.
void wait_for_watches(const FakeApiServer& api, int count) {
  const auto deadline = Deadline::after(30s);
  while (api.requests("watch") < count) {
    if (deadline.expired()) {
      std::fprintf(stderr, "only %d of %d watches opened within 30 s\n", api.requests("watch"), count);
      std::exit(1);
    }
    std::this_thread::yield();
  }
}

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
  wait_for_watches(api, 1);
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

nlohmann::json report(const char* name, int runs, int slices, int per_slice) {
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
  return {{"endpoints", slices * per_slice}, {"slices", slices}, {"runs", runs}, {"meanMs", mean},
          {"p50Ms", percentile(0.5)}, {"p95Ms", percentile(0.95)}, {"requestsPerTermination", samples.front().requests},
          {"bytesPerTermination", samples.front().bytes}};
}

// A rolling update: `pods` endpoints in slices of 100, terminated `at_once` at a time; each
// termination runs the endpoint waiter on its own connection, as each pod's prestop does.
nlohmann::json rollout(int pods, int at_once) {
  FakeApiServer api;
  const int per_slice = 100;
  for (int s = 0; s * per_slice < pods; ++s) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (int n = s * per_slice; n < std::min(pods, (s + 1) * per_slice); ++n) {
      endpoints.push_back(endpoint_entry("10.2." + std::to_string(n / 250) + "." + std::to_string(n % 250),
                                         "pod-" + std::to_string(n)));
    }
    api.put("endpointslices", slice_object("svc-" + std::to_string(s), "svc", "IPv4", std::move(endpoints)));
  }
  long long bytes = 0;
  int requests = 0;
  const auto started = Clock::now();
  for (int first = 0; first < pods; first += at_once) {
    const int last = std::min(pods, first + at_once);
    const int watches_before = api.requests("watch");
    std::vector<std::future<std::pair<int, long long>>> waiting;
    for (int n = first; n < last; ++n) {
      waiting.push_back(std::async(std::launch::async, [&api, n] {
        lameduck::KubeClient client({lameduck::parse_url(api.url()).value(), api.token_file(), api.ca_file()}, k_quiet);
        const auto result = lameduck::wait_until_endpoint_not_ready(
            client, {lameduck::test::k_namespace, {"svc"}, {"pod-" + std::to_string(n), {}}}, Deadline::after(60s), k_quiet);
        if (result.verdict != lameduck::EndpointVerdict::not_ready) {
          std::fprintf(stderr, "rollout: unexpected verdict: %s\n", result.reason.c_str());
          std::exit(1);
        }
        return std::pair{client.requests(), client.bytes_read()};
      }));
    }
    wait_for_watches(api, watches_before + (last - first));
    for (int n = first; n < last; ++n) {
      api.set_pod_endpoints("pod-" + std::to_string(n), false, true, true);
    }
    for (auto& done : waiting) {
      const auto [client_requests, client_bytes] = done.get();
      requests += client_requests;
      bytes += client_bytes;
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("%-30s %9d %11d %11.1f %13.1f %9.1f\n", ("rollout of " + std::to_string(pods) + ", " +
                                                        std::to_string(at_once) + " at once").c_str(),
              api.peak_watches(), requests, static_cast<double>(requests) / pods,
              static_cast<double>(bytes) / 1e6, took);
  return {{"pods", pods}, {"atOnce", at_once}, {"peakWatches", api.peak_watches()}, {"requests", requests},
          {"requestsPerPod", static_cast<double>(requests) / pods}, {"megabytesServed", static_cast<double>(bytes) / 1e6},
          {"seconds", took}};
}

} // namespace

int main(int argc, char* argv[]) {
  const std::string output = argc > 1 ? argv[1] : ".";
  const int runs = argc > 2 ? std::stoi(argv[2]) : 20;
  nlohmann::json results;
  std::printf("EndpointSlice change -> verdict, %d waits each (TLS, loopback)\n\n", runs);
  std::printf("%-30s %8s %8s %8s %9s %11s %12s\n", "service", "mean ms", "p50 ms", "p95 ms", "requests", "bytes read",
              "vs sleep 15");
  results["terminations"].push_back(report("10 endpoints in 1 slice", runs, 1, 10));
  results["terminations"].push_back(report("5,000 endpoints in 50 slices", std::max(1, runs / 2), 50, 100));
  std::printf("\nbaseline: preStop `sleep 15` waits 15000 ms whatever the slices say.\n");
  std::printf("\nWhat the API server sees in a rolling update (each termination: LIST, then WATCH until its verdict)\n\n");
  std::printf("%-30s %9s %11s %11s %13s %9s\n", "", "peak", "requests", "requests", "MB served", "seconds");
  std::printf("%-30s %9s %11s %11s %13s %9s\n", "", "watches", "", "per pod", "", "");
  results["rollout"] = rollout(200, 50);
  std::ofstream(output + "/api-cost.json") << results.dump(2) << "\n";
  return 0;
}

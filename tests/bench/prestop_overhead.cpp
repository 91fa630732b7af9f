// What prestop costs beyond what a termination must wait for: with the endpoint turning
// not-ready at E after the deletion, --min-delay M and an agent that needs D to flush, the
// least any correct hook can take is E + M + D. prestop's overhead is its total minus that.
// Baseline: the fixed `preStop: sleep 15` takes 15 s whatever E, M and D are.
//
//   prestop-overhead [RUNS]      (./dev bench)

#include "lameduck/durable_file.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/process.hpp"
#include "support/readyz_process.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

using namespace std::chrono_literals;
using namespace lameduck;

namespace {

constexpr auto k_endpoint_delay = 300ms; // E: the EndpointSlice controller's reaction
constexpr auto k_min_delay = 500ms;      // M
constexpr auto k_flush_time = 200ms;     // D

double one_termination(const std::string& dir) {
  test::FakeApiServer api;
  api.put("pods", test::pod_object());
  api.put("endpointslices", test::slice_object("s-v4", "ledger-agent", "IPv4",
                                               {test::endpoint_entry(test::k_pod_ipv4, test::k_pod_uid)}));
  test::ReadyzProcess readyz;
  test::Process agent({test::tool_path("demo-agent"), "--state-file", dir + "/agent.json", "--flush-time",
                       std::to_string(to_ms(k_flush_time)) + "ms"});
  const auto listening = agent.wait_for_event("agent.listening", Deadline::after(10s));
  const int port = listening ? listening->at("port").get<int>() : 0;
  api.delete_pod(test::k_namespace, test::k_pod_name, 30, k_endpoint_delay);
  const auto started = Clock::now();
  const auto result = test::run_process(
      {test::tool_path("prestop"), "--kube-api", api.url(), "--kube-token-file", api.token_file(), "--kube-ca-file",
       api.ca_file(), "--readyz-url", readyz.url(), "--drain-url", "http://127.0.0.1:" + std::to_string(port) + "/drain",
       "--service", "ledger-agent", "--min-delay", std::to_string(to_ms(k_min_delay)) + "ms", "--state-dir",
       dir + "/state-" + std::to_string(Clock::now().time_since_epoch().count()), "--termination-log", "",
       "--container-stdout", "", "--log-level", "error"},
      {.environment = {{"POD_NAME", test::k_pod_name}, {"POD_NAMESPACE", test::k_namespace}, {"POD_UID", test::k_pod_uid}},
       .working_directory = {},
       .stdin_text = {}});
  const double total = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (result.exit_code != 0) {
    std::fprintf(stderr, "prestop ended with %d: %s\n", result.exit_code, result.stderr_text.c_str());
    std::exit(1);
  }
  return total - static_cast<double>(to_ms(k_endpoint_delay + k_min_delay + k_flush_time));
}

} // namespace

int main(int argc, char* argv[]) {
  const int runs = argc > 1 ? std::stoi(argv[1]) : 20;
  std::string pattern = (std::filesystem::temp_directory_path() / "lameduck-overhead-XXXXXX").string();
  const std::string dir = ::mkdtemp(pattern.data());
  std::vector<double> overhead;
  for (int i = 0; i < runs; ++i) {
    overhead.push_back(one_termination(dir));
  }
  std::filesystem::remove_all(dir);
  std::sort(overhead.begin(), overhead.end());
  const double least = static_cast<double>(to_ms(k_endpoint_delay + k_min_delay + k_flush_time));
  std::printf("prestop's overhead: total - (E %lld ms + min-delay %lld ms + flush %lld ms), %d terminations\n"
              "(process start, TLS handshake, pod GET, LIST, WATCH, readiness call, drain POST and long-poll)\n\n",
              static_cast<long long>(to_ms(k_endpoint_delay)), static_cast<long long>(to_ms(k_min_delay)),
              static_cast<long long>(to_ms(k_flush_time)), runs);
  std::printf("%-28s %10s %10s %10s\n", "", "median ms", "max ms", "total ms");
  std::printf("%-28s %10.1f %10.1f %10.1f\n", "prestop", overhead[overhead.size() / 2], overhead.back(),
              least + overhead[overhead.size() / 2]);
  std::printf("%-28s %10.1f %10.1f %10.1f\n", "baseline: preStop sleep 15", 15000 - least, 15000 - least, 15000.0);
  return 0;
}

// How long a pod takes to stop, against what it must wait for. With the endpoint turning
// not-ready E after the deletion, --min-delay M for the consumers of that change, and an agent
// that needs D to flush, no correct hook can take less than E + M + D. Each scenario measures,
// in the same run:
//  - lameduck: prestop, against the fake API server (TLS), readyz-toggle and the demo agent;
//  - a typical shell hook: curl POSTs the drain endpoint, then polls it every 1 s.
//    It does not wait for the endpoints, so it drains while the Service still routes here;
//  - `preStop: sleep 15`, then SIGTERM: the sleep is exactly 15 s and is added, not slept;
//    SIGTERM to the agent's exit is measured.
// Prints a table per scenario, writes the figures to shutdown.json and the timeline of one
// termination of each kind to shutdown-timeline.svg in the output directory.
//
//   shutdown-time [OUTPUT_DIR] [RUNS]      (./dev bench)

#include "lameduck/core/durable_file.hpp"
#include "support/fake_apiserver.hpp"
#include "support/kube_fixtures.hpp"
#include "support/process.hpp"
#include "support/readyz_process.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <vector>

using namespace std::chrono_literals;
using namespace lameduck;

namespace {

constexpr auto k_min_delay = 500ms;
constexpr double k_sleep_ms = 15000;

struct Scenario {
  Duration endpoint_delay; // E
  Duration flush_time;     // D
  double ideal_ms() const { return static_cast<double>(to_ms(endpoint_delay + k_min_delay + flush_time)); }
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string ms_text(Duration duration) {
  return std::to_string(to_ms(duration)) + "ms";
}

struct Agent {
  Agent(const test::TempDir& dir, Duration flush_time)
      : process({test::tool_path("demo-agent"), "--state-file", dir.file("agent.json"), "--flush-time",
                 ms_text(flush_time)}) {
    const auto listening = process.wait_for_event("agent.listening", Deadline::after(10s));
    port = listening ? listening->at("port").get<int>() : 0;
  }
  std::string drain_url() const { return "http://127.0.0.1:" + std::to_string(port) + "/drain"; }

  test::Process process;
  int port = 0;
};

// One termination with prestop: its total, and its phases as prestop reported them.
struct PrestopRun {
  double total_ms = 0;
  nlohmann::json phases;
};

PrestopRun run_prestop(const Scenario& scenario) {
  test::TempDir dir;
  test::FakeApiServer api;
  api.put("pods", test::pod_object());
  api.put("endpointslices", test::slice_object("s-v4", "ledger-agent", "IPv4",
                                               {test::endpoint_entry(test::k_pod_ipv4, test::k_pod_uid)}));
  test::ReadyzProcess readyz;
  const Agent agent(dir, scenario.flush_time);
  api.delete_pod(test::k_namespace, test::k_pod_name, 30, scenario.endpoint_delay);
  const auto started = Clock::now();
  const auto result = test::run_process(
      {test::tool_path("prestop"), "--kube-api", api.url(), "--kube-token-file", api.token_file(), "--kube-ca-file",
       api.ca_file(), "--readyz-url", readyz.url(), "--drain-url", agent.drain_url(), "--service", "ledger-agent",
       "--min-delay", ms_text(k_min_delay), "--state-dir", dir.file("state"), "--termination-log",
       dir.file("termination-log"), "--container-stdout", "", "--log-level", "error"},
      {.environment = {{"POD_NAME", test::k_pod_name}, {"POD_NAMESPACE", test::k_namespace}, {"POD_UID", test::k_pod_uid}},
       .working_directory = {},
       .stdin_text = {}});
  const double total = ms_since(started);
  if (result.exit_code != 0) {
    std::fprintf(stderr, "prestop ended with %d: %s\n", result.exit_code, result.stderr_text.c_str());
    std::exit(1);
  }
  const auto log = read_small_file(dir.file("termination-log")).value().content;
  return {total, nlohmann::json::parse(log.substr(0, log.find('\n'))).at("phases")};
}

double run_shell_hook(const Scenario& scenario) {
  test::TempDir dir;
  const Agent agent(dir, scenario.flush_time);
  const std::string url = agent.drain_url();
  const auto started = Clock::now();
  const auto result = test::run_process(
      {"/bin/sh", "-c",
       "curl -sf -H 'Idempotency-Key: shell-hook' -H 'Content-Type: application/json' -d '{}' " + url +
           " >/dev/null; until curl -sf " + url + " | grep -q flushed; do sleep 1; done"});
  const double total = ms_since(started);
  if (result.exit_code != 0) {
    std::fprintf(stderr, "the shell hook ended with %d: %s\n", result.exit_code, result.stderr_text.c_str());
    std::exit(1);
  }
  return total;
}

// SIGTERM to exit; the hook's 15 s sleep comes before it.
double run_sleep_then_sigterm(const Scenario& scenario) {
  test::TempDir dir;
  Agent agent(dir, scenario.flush_time);
  const auto started = Clock::now();
  agent.process.send_signal(SIGTERM);
  agent.process.wait_exit(Deadline::after(10s));
  return k_sleep_ms + ms_since(started);
}

struct Figures {
  double median = 0;
  double max = 0;
};

Figures figures(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.back()};
}

// The timeline of one termination of each kind, as bars on one time axis.
void write_timeline(const std::string& path, const Scenario& scenario, const PrestopRun& prestop, double shell_ms,
                    double sleep_ms) {
  const double width = 900;
  const double left = 190;
  const double scale = (width - left - 20) / 16000.0;
  const auto x = [&](double ms) { return left + ms * scale; };
  std::string svg = R"(<svg xmlns="http://www.w3.org/2000/svg" width="900" height="250" font-family="sans-serif" font-size="12">)"
                    "\n<rect width=\"900\" height=\"250\" fill=\"white\"/>\n";
  const auto bar = [&](double y, double from, double to, const char* colour, const std::string& label) {
    svg += "<rect x=\"" + std::to_string(x(from)) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           std::to_string(std::max(1.0, (to - from) * scale)) + "\" height=\"22\" fill=\"" + colour + "\"><title>" +
           label + "</title></rect>\n";
  };
  const auto text = [&](double at_x, double y, const std::string& words, const char* anchor = "start") {
    svg += "<text x=\"" + std::to_string(at_x) + "\" y=\"" + std::to_string(y) + "\" text-anchor=\"" + anchor +
           "\">" + words + "</text>\n";
  };
  const double routed_until = static_cast<double>(to_ms(scenario.endpoint_delay + k_min_delay));
  text(10, 20, "One termination, E = " + std::to_string(to_ms(scenario.endpoint_delay)) + " ms, min-delay = " +
                   std::to_string(to_ms(k_min_delay)) + " ms, D = " + std::to_string(to_ms(scenario.flush_time)) +
                   " ms (ideal " + std::to_string(static_cast<int>(scenario.ideal_ms())) + " ms)");
  // The span during which the Service may still send requests here.
  svg += "<rect x=\"" + std::to_string(x(0)) + "\" y=\"35\" width=\"" + std::to_string(routed_until * scale) +
         "\" height=\"170\" fill=\"#fde2e2\"/>\n";
  text(x(routed_until) + 4, 200, "endpoint gone + min-delay: traffic stops here");

  double at = 0;
  text(10, 66, "lameduck prestop");
  const char* colours[] = {"#4c78a8", "#72b7b2", "#54a24b", "#b279a2"};
  int colour = 0;
  for (const auto& phase : prestop.phases) {
    const double took = phase.at("ms").get<double>();
    bar(50, at, at + took, colours[colour++ % 4], phase.at("phase").get<std::string>());
    at += took;
  }
  text(x(prestop.total_ms) + 6, 66, std::to_string(static_cast<int>(prestop.total_ms)) + " ms: readiness, endpoints, drain");

  text(10, 116, "shell hook (curl, 1 s poll)");
  bar(100, 0, shell_ms, "#f58518", "POST drain, then poll every 1 s");
  text(x(shell_ms) + 6, 116, std::to_string(static_cast<int>(shell_ms)) + " ms, drains while still routed");

  text(10, 166, "preStop sleep 15 + SIGTERM");
  bar(150, 0, k_sleep_ms, "#bab0ac", "sleep 15");
  bar(150, k_sleep_ms, sleep_ms, "#e45756", "SIGTERM to exit");
  text(x(sleep_ms) - 4, 143, std::to_string(static_cast<int>(sleep_ms)) + " ms", "end");

  for (int second = 0; second <= 16; second += 2) {
    const double at_x = x(second * 1000.0);
    svg += "<line x1=\"" + std::to_string(at_x) + "\" y1=\"210\" x2=\"" + std::to_string(at_x) +
           "\" y2=\"215\" stroke=\"black\"/>\n";
    text(at_x, 230, std::to_string(second) + " s", "middle");
  }
  svg += "<line x1=\"" + std::to_string(x(0)) + "\" y1=\"210\" x2=\"" + std::to_string(x(16000)) +
         "\" y2=\"210\" stroke=\"black\"/>\n</svg>\n";
  std::ofstream(path) << svg;
}

} // namespace

int main(int argc, char* argv[]) {
  const std::string output = argc > 1 ? argv[1] : ".";
  const int runs = argc > 2 ? std::stoi(argv[2]) : 20;
  const std::vector<Scenario> scenarios{{300ms, 200ms}, {1s, 500ms}, {2s, 800ms}};

  std::printf("Shutdown time: E = endpoint not ready after deletion, M = min-delay %lld ms, D = agent flush; "
              "%d terminations of each kind per scenario\n",
              static_cast<long long>(to_ms(k_min_delay)), runs);
  nlohmann::json results = nlohmann::json::array();
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    const auto& scenario = scenarios[s];
    std::vector<double> prestop;
    std::vector<double> shell;
    std::vector<double> sleep;
    PrestopRun sample;
    for (int i = 0; i < runs; ++i) {
      sample = run_prestop(scenario);
      prestop.push_back(sample.total_ms);
      shell.push_back(run_shell_hook(scenario));
      sleep.push_back(run_sleep_then_sigterm(scenario));
    }
    const double ideal = scenario.ideal_ms();
    std::printf("\nE %lld ms, D %lld ms: ideal E + M + D = %.0f ms\n", static_cast<long long>(to_ms(scenario.endpoint_delay)),
                static_cast<long long>(to_ms(scenario.flush_time)), ideal);
    std::printf("  %-30s %10s %10s %14s %14s  %s\n", "", "median ms", "max ms", "overhead p50", "overhead max",
                "waits for the endpoint");
    nlohmann::json row{{"endpointDelayMs", to_ms(scenario.endpoint_delay)}, {"minDelayMs", to_ms(k_min_delay)},
                       {"flushMs", to_ms(scenario.flush_time)}, {"idealMs", ideal}, {"runs", runs}};
    const auto line = [&](const char* name, const char* key, const std::vector<double>& totals, const char* waits) {
      const auto f = figures(totals);
      std::printf("  %-30s %10.1f %10.1f %14.1f %14.1f  %s\n", name, f.median, f.max, f.median - ideal, f.max - ideal, waits);
      row[key] = {{"medianMs", f.median}, {"maxMs", f.max}, {"overheadMedianMs", f.median - ideal},
                  {"overheadMaxMs", f.max - ideal}};
    };
    line("lameduck prestop", "lameduck", prestop, "yes, watched");
    line("shell hook (curl, 1 s poll)", "shellHook", shell, "no: drains while still routed");
    line("preStop sleep 15 + SIGTERM", "sleep15", sleep, "blind: 15 s whatever happens");
    results.push_back(row);
    if (s == 1) {
      write_timeline(output + "/shutdown-timeline.svg", scenario, sample, shell.back(), sleep.back());
    }
  }
  std::ofstream(output + "/shutdown.json") << results.dump(2) << "\n";
  std::printf("\nwrote %s/shutdown.json and %s/shutdown-timeline.svg\n", output.c_str(), output.c_str());
  return 0;
}

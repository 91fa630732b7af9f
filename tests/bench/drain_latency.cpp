// How soon drain-wait knows: the time from an agent reporting "flushed" to the drain-wait
// process having exited, against an agent that honours the waitMs long-poll and against the
// baseline, an agent that ignores it and is polled every --poll-interval.
//
//   drain-latency [RUNS] [POLL_INTERVAL_MS]      (./dev bench)

#include "lameduck/drain/drain_controller.hpp"
#include "support/http_test_server.hpp"
#include "support/process.hpp"
#include "support/quiet_logger.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <utility>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::DrainController;
using lameduck::DrainState;
using lameduck::test::k_quiet;

namespace {

struct Summary {
  double mean_ms = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double max_ms = 0;
};

Summary summarise(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Summary summary;
  for (const double sample : samples) {
    summary.mean_ms += sample / static_cast<double>(samples.size());
  }
  const auto at = [&samples](double q) { return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))]; };
  summary.p50_ms = at(0.5);
  summary.p95_ms = at(0.95);
  summary.max_ms = samples.back();
  return summary;
}

// One drain: the agent holds one piece of work, drain-wait starts, the work ends at a random
// moment (so that polling is not in phase with it), the agent flushes; we time the exit.
double one_drain(bool long_poll, int poll_interval_ms, std::mt19937& random) {
  std::atomic<Clock::time_point> flushed_at{};
  DrainController controller(
      [&flushed_at](const std::string&) -> lameduck::Expected<lameduck::Done> {
        flushed_at = Clock::now();
        return lameduck::Done{};
      },
      k_quiet);
  std::promise<void> status_asked;
  bool asked = false;
  const lameduck::test::HttpTestServer agent([&](httplib::Server& s) {
    s.set_pre_routing_handler([&](const httplib::Request& request, httplib::Response&) {
      if (request.method == "GET" && !std::exchange(asked, true)) {
        status_asked.set_value();
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    if (long_poll) {
      controller.serve_on(s, "/drain");
      return;
    }
    s.Post("/drain", [&controller](const httplib::Request& request, httplib::Response& response) {
      controller.start_drain(request.get_header_value("Idempotency-Key"));
      response.status = 202;
    });
    s.Get("/drain", [&controller](const httplib::Request&, httplib::Response& response) {
      response.set_content(lameduck::drain_status_json(controller.status()), "application/json");
    });
  });
  auto work = controller.begin_work();
  lameduck::test::Process drain_wait({lameduck::test::tool_path("drain-wait"), "--drain-url", agent.url("/drain"),
                                      "--termination-id", "bench", "--timeout", "20s", "--poll-interval",
                                      std::to_string(poll_interval_ms) + "ms", "--log-level", "error"});
  // Once drain-wait is waiting on the status, the work ends at a random point of one poll
  // interval: that phase is what the polled baseline's latency depends on, so it is drawn,
  // not synchronised.
  status_asked.get_future().wait();
  const auto phase = std::chrono::milliseconds{random() % static_cast<unsigned>(poll_interval_ms)};
  lameduck::sleep_within(phase, Deadline::after(phase));
  work.reset();
  const auto exit = drain_wait.wait_exit(Deadline::after(20s));
  const auto exited_at = Clock::now();
  if (exit != 0) {
    std::fprintf(stderr, "drain-wait ended with %d\n", exit.value_or(-1));
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(exited_at - flushed_at.load()).count();
}

} // namespace

int main(int argc, char* argv[]) {
  const int runs = argc > 1 ? std::stoi(argv[1]) : 30;
  const int poll_interval_ms = argc > 2 ? std::stoi(argv[2]) : 100;
  std::mt19937 random(20261124);
  std::vector<double> long_poll;
  std::vector<double> polling;
  for (int i = 0; i < runs; ++i) {
    long_poll.push_back(one_drain(true, poll_interval_ms, random));
    polling.push_back(one_drain(false, poll_interval_ms, random));
  }
  const Summary fast = summarise(long_poll);
  const Summary slow = summarise(polling);
  std::printf("flushed -> drain-wait exited, %d drains each, --poll-interval %d ms\n\n", runs, poll_interval_ms);
  std::printf("%-34s %9s %9s %9s %9s\n", "agent", "mean ms", "p50 ms", "p95 ms", "max ms");
  std::printf("%-34s %9.2f %9.2f %9.2f %9.2f\n", "long-poll (waitMs honoured)", fast.mean_ms, fast.p50_ms, fast.p95_ms,
              fast.max_ms);
  std::printf("%-34s %9.2f %9.2f %9.2f %9.2f\n", "baseline: polled (waitMs ignored)", slow.mean_ms, slow.p50_ms,
              slow.p95_ms, slow.max_ms);
  std::printf("%-34s %9.1fx %8.1fx\n", "baseline / long-poll", slow.mean_ms / fast.mean_ms, slow.p50_ms / fast.p50_ms);
  return 0;
}

#include "lameduck/prestop/drain_steps.hpp"

#include "support/log_lines.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::DrainStep;
using lameduck::Duration;
using lameduck::parse_drain_step;
using lameduck::step_share;

namespace {

std::vector<DrainStep> steps(const std::vector<std::string>& texts) {
  std::vector<DrainStep> out;
  for (const auto& text : texts) {
    out.push_back(parse_drain_step(text).value());
  }
  return out;
}

} // namespace

TEST_CASE("step_share") {
  SUBCASE("one step has everything") {
    CHECK(step_share(steps({"url:http://127.0.0.1:1/drain"}), 0, 20s) == 20s);
  }
  SUBCASE("steps without a timeout split what is left; the last has all that the others left it") {
    const auto list = steps({"signal:nginx:QUIT", "url:http://127.0.0.1:1/drain", "exec:/bin/true"});
    CHECK(step_share(list, 0, 30s) == 10s);
    CHECK(step_share(list, 1, 28s) == 14s); // the first used 2 s of its 10
    CHECK(step_share(list, 2, 27s) == 27s);
  }
  SUBCASE("later timeouts are kept for their steps; a step's own timeout is its cap") {
    const auto list = steps({"url:http://127.0.0.1:1/drain", "exec:/bin/flush@5s", "signal:nginx:QUIT@40s"});
    CHECK(step_share(list, 1, 20s) == 5s);
    CHECK(step_share(list, 2, 20s) == 20s);
    // 20 s claimed by timeouts that cannot all be had: the untimed step still gets its plain share.
    CHECK(step_share(list, 0, 30s) == 10s);
    CHECK(step_share(steps({"url:http://127.0.0.1:1/drain", "exec:/bin/flush@5s"}), 0, 30s) == 25s);
  }
}

TEST_CASE("drain_steps_of") {
  lameduck::PrestopOptions options;
  CHECK(lameduck::drain_steps_of(options).empty());
  options.drain.drain_url = "http://127.0.0.1:8080/drain";
  const auto one = lameduck::drain_steps_of(options);
  REQUIRE(one.size() == 1);
  CHECK(one[0].url == "http://127.0.0.1:8080/drain");
  options.drain_steps = steps({"signal:nginx:QUIT", "url:http://127.0.0.1:8080/drain"});
  CHECK(lameduck::drain_steps_of(options).size() == 2);
}

TEST_CASE("run_drain_steps") {
  SUBCASE("every step runs, in order, whatever the ones before did; each one's outcome is reported") {
    const lameduck::test::LogLines log;
    const auto result = lameduck::run_drain_steps(
        steps({"exec:/bin/false", "signal:ldk-not-running-anywhere:QUIT", "exec:/bin/true"}), {}, "t1",
        lameduck::Deadline::after(10s), log.logger());
    CHECK(result.outcome == lameduck::PhaseOutcome::gave_up);
    REQUIRE(result.details["steps"].size() == 3);
    CHECK(result.details["steps"][0]["outcome"] == "gave_up");
    CHECK(result.details["steps"][1]["outcome"] == "skipped");
    CHECK(result.details["steps"][2]["outcome"] == "done");
    CHECK(result.details["steps"][2]["kind"] == "exec");
    CHECK(result.details["steps"][2]["target"] == "/bin/true");
    CHECK_FALSE(result.details.contains("drain")); // no URL step
    CHECK(result.reason.starts_with("exec /bin/false: exited 1 after "));
  }
}

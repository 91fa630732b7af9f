#include "lameduck/drain/drain_step.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace std::chrono_literals;
using lameduck::DrainStepKind;
using lameduck::parse_drain_step;
using lameduck::parse_signal_name;

TEST_CASE("parse_drain_step") {
  SUBCASE("a signal to a process by name, with its own timeout") {
    const auto step = parse_drain_step("signal:nginx:QUIT@20s").value();
    CHECK(step.kind == DrainStepKind::signal);
    CHECK(step.process_name == "nginx");
    CHECK(step.pid_file.empty());
    CHECK(step.signal_number == SIGQUIT);
    CHECK(step.signal_name == "QUIT");
    CHECK(step.timeout == 20s);
  }
  SUBCASE("a signal to the process of a pid file, the signal written with SIG") {
    const auto step = parse_drain_step("signal:pidfile=/run/haproxy.pid:SIGUSR1").value();
    CHECK(step.pid_file == "/run/haproxy.pid");
    CHECK(step.signal_number == SIGUSR1);
    CHECK(step.signal_name == "USR1");
    CHECK_FALSE(step.timeout);
    CHECK(lameduck::drain_step_target(step) == "pidfile=/run/haproxy.pid");
  }
  SUBCASE("a command: arguments split at commas, no shell") {
    const auto step = parse_drain_step("exec:/usr/bin/flush,--now,--to=backend@5s").value();
    CHECK(step.kind == DrainStepKind::exec);
    CHECK(step.argv == std::vector<std::string>{"/usr/bin/flush", "--now", "--to=backend"});
    CHECK(step.timeout == 5s);
    CHECK(lameduck::drain_step_target(step) == "/usr/bin/flush --now --to=backend");
  }
  SUBCASE("a drain URL; an @ that is not followed by a duration stays in the URL") {
    const auto step = parse_drain_step("url:http://127.0.0.1:9000/drain/@agent").value();
    CHECK(step.kind == DrainStepKind::url);
    CHECK(step.url == "http://127.0.0.1:9000/drain/@agent");
    CHECK_FALSE(step.timeout);
    CHECK(parse_drain_step("url:http://127.0.0.1:9000/drain@2s").value().timeout == 2s);
  }
  SUBCASE("what is refused, and why") {
    CHECK(parse_drain_step("nginx").error().message ==
          "--drain-step \"nginx\": expected url:URL, signal:NAME:SIGNAL, signal:pidfile=PATH:SIGNAL or "
          "exec:PATH[,ARG]...");
    CHECK(parse_drain_step("kill:nginx:QUIT").error().message ==
          "--drain-step \"kill:nginx:QUIT\": unknown kind \"kill\" (url, signal or exec)");
    CHECK(parse_drain_step("signal:nginx").error().message ==
          "--drain-step \"signal:nginx\": expected signal:NAME:SIGNAL or signal:pidfile=PATH:SIGNAL");
    CHECK(parse_drain_step("signal:nginx:KILL").error().message ==
          "--drain-step \"signal:nginx:KILL\": unknown signal \"KILL\" (HUP, INT, QUIT, USR1, USR2, TERM, WINCH, "
          "CONT, PWR or a number; not KILL or STOP)");
    CHECK(parse_drain_step("signal:/usr/sbin/nginx:QUIT").error().message ==
          "--drain-step \"signal:/usr/sbin/nginx:QUIT\": a process name has no '/'; a path is given as pidfile=PATH");
    CHECK(parse_drain_step("signal:pidfile=run/x.pid:QUIT").error().message ==
          "--drain-step \"signal:pidfile=run/x.pid:QUIT\": a pid file must be an absolute path");
    CHECK(parse_drain_step("exec:flush,--now").error().message ==
          "--drain-step \"exec:flush,--now\": exec needs an absolute path: no shell looks it up");
    CHECK(parse_drain_step("exec:/bin/true@0s").error().message ==
          "--drain-step \"exec:/bin/true@0s\": a step's timeout must be positive");
    CHECK_FALSE(parse_drain_step("url:ftp://x/drain"));
  }
}

TEST_CASE("parse_signal_name") {
  CHECK(parse_signal_name("QUIT") == SIGQUIT);
  CHECK(parse_signal_name("SIGTERM") == SIGTERM);
  CHECK(parse_signal_name("10") == 10);
  CHECK_FALSE(parse_signal_name("9"));  // KILL lets nothing finish
  CHECK_FALSE(parse_signal_name("STOP"));
  CHECK_FALSE(parse_signal_name(""));
  CHECK_FALSE(parse_signal_name("quit"));
}

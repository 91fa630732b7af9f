#include "cli/cli.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace std::chrono_literals;
using lameduck::Duration;
namespace cli = lameduck::cli;

namespace {

struct ScopedEnvironment {
  ScopedEnvironment(const char* name, const char* value) : m_name(name) { ::setenv(name, value, 1); }
  ~ScopedEnvironment() { ::unsetenv(m_name); }
  const char* m_name;
};

struct Example {
  Duration grace_period = 30s;
  std::string url = "http://127.0.0.1:7979";
  std::unique_ptr<CLI::App> app = cli::make_app("example", "An example.");

  Example() {
    cli::add_duration(*app, "--grace-period", grace_period, "Grace period");
    app->add_option("--readyz-url", url, "Readiness server");
    cli::bind_environment(*app);
  }

  std::optional<int> parse(std::vector<const char*> arguments) {
    arguments.insert(arguments.begin(), "example");
    return cli::parse(*app, static_cast<int>(arguments.size()), arguments.data());
  }
};

} // namespace

TEST_CASE("environment_name") {
  CHECK(cli::environment_name("--grace-period") == "LAMEDUCK_GRACE_PERIOD");
  CHECK(cli::environment_name("--kube-api") == "LAMEDUCK_KUBE_API");
  CHECK(cli::environment_name("--plan") == "LAMEDUCK_PLAN");
}

TEST_CASE("parse") {
  Example example;

  SUBCASE("flags and defaults") {
    CHECK_FALSE(example.parse({"--grace-period", "1m30s"}));
    CHECK(example.grace_period == 90s);
    CHECK(example.url == "http://127.0.0.1:7979");
  }
  SUBCASE("a bare integer duration is seconds") {
    CHECK_FALSE(example.parse({"--grace-period=45"}));
    CHECK(example.grace_period == 45s);
  }
  SUBCASE("the environment sets a flag") {
    const ScopedEnvironment grace("LAMEDUCK_GRACE_PERIOD", "5s");
    CHECK_FALSE(example.parse({}));
    CHECK(example.grace_period == 5s);
  }
  SUBCASE("the command line wins over the environment") {
    const ScopedEnvironment grace("LAMEDUCK_GRACE_PERIOD", "5s");
    CHECK_FALSE(example.parse({"--grace-period", "7s"}));
    CHECK(example.grace_period == 7s);
  }
  SUBCASE("usage errors exit 2") {
    CHECK(example.parse({"--grace-period", "soon"}) == 2);
    CHECK(example.parse({"--grace-period", "-1s"}) == 2);
    CHECK(example.parse({"--no-such-flag"}) == 2);
    CHECK(example.parse({"--grace-period"}) == 2);
  }
  SUBCASE("an invalid environment value exits 2 too") {
    const ScopedEnvironment grace("LAMEDUCK_GRACE_PERIOD", "soon");
    CHECK(example.parse({}) == 2);
  }
  SUBCASE("help and version exit 0") {
    CHECK(example.parse({"--help"}) == 0);
    CHECK(example.parse({"--version"}) == 0);
  }
  SUBCASE("help states units, defaults and variables") {
    const std::string help = example.app->help();
    CHECK(help.find("--grace-period DURATION") != std::string::npos);
    CHECK(help.find("[default: 30s]") != std::string::npos);
    CHECK(help.find("[env: LAMEDUCK_GRACE_PERIOD]") != std::string::npos);
  }
}

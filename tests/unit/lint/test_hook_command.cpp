#include "lameduck/lint/hook_command.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::lint::read_hook_command;
using nlohmann::json;

TEST_CASE("read_hook_command") {
  SUBCASE("sleep alone, with GNU sleep's suffixes") {
    CHECK(read_hook_command(json{"sleep", "15"})->sleep_seconds == 15);
    CHECK(read_hook_command(json{"/bin/sleep", "1m"})->sleep_seconds == 60);
    CHECK(read_hook_command(json{"sleep", "15"})->plain_sleep);
    CHECK_FALSE(read_hook_command(json{"sleep", "soon"})->sleep_seconds);
  }
  SUBCASE("a shell with -c, and the longest sleep in its script") {
    const auto command = read_hook_command(json{"/bin/sh", "-ec", "sleep 5; kill -TERM 1 && sleep 20s"});
    CHECK(command->shell);
    CHECK(command->sleep_seconds == 20);
    CHECK_FALSE(command->plain_sleep);
    CHECK_FALSE(read_hook_command(json{"sh", "-c", "nosleep 99; asleep 5"})->sleep_seconds);
    CHECK_FALSE(read_hook_command(json{"bash", "script.sh"})->shell);
  }
  SUBCASE("lameduck's prestop and the flags that plan its deadline") {
    const auto command = read_hook_command(
        json{"/lameduck/bin/prestop", "--grace-period=45s", "--margin", "5s", "--min-delay=3s", "--service", "web",
             "--hold-until-drained"});
    REQUIRE(command->prestop);
    CHECK(command->prestop->grace_period == 45s);
    CHECK(command->prestop->grace_period_written);
    CHECK(command->prestop->margin == 5s);
    CHECK(command->prestop->min_delay == 3s);
    CHECK(command->prestop->services == std::vector<std::string>{"web"});
    CHECK(command->prestop->hold_until_drained);
    const auto defaults = read_hook_command(json{"prestop"});
    CHECK(defaults->prestop->grace_period == 30s);
    CHECK_FALSE(defaults->prestop->grace_period_written);
  }
  SUBCASE("what is not a list of strings is not read") {
    CHECK_FALSE(read_hook_command(json{"sleep", 15}));
    CHECK_FALSE(read_hook_command(json::array()));
    CHECK_FALSE(read_hook_command(json("sleep 15")));
  }
}

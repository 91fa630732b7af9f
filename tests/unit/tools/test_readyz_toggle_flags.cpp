#include "cli/readyz_toggle_flags.hpp"

#include "support/flag_parse.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::ReadyzToggleOptions;
using lameduck::cli::parse_readyz_toggle_flags;
using lameduck::test::parse_flags;
using Command = ReadyzToggleOptions::Command;

TEST_CASE("parse_readyz_toggle_flags") {
  SUBCASE("each subcommand is recognised, with its flags") {
    ReadyzToggleOptions serve;
    CHECK_FALSE(parse_flags(parse_readyz_toggle_flags, "readyz-toggle",
                            {"serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:8080/healthz", "--start",
                             "not-ready"},
                            serve)
                    .exit_code);
    CHECK(serve.command == Command::serve);
    CHECK(serve.serve.upstream->text() == "http://127.0.0.1:8080/healthz");
    CHECK_FALSE(serve.serve.start_ready);
    ReadyzToggleOptions off;
    CHECK_FALSE(parse_flags(parse_readyz_toggle_flags, "readyz-toggle", {"off", "--reason", "maintenance"}, off).exit_code);
    CHECK(off.command == Command::disable);
    CHECK(off.reason == "maintenance");
    ReadyzToggleOptions install;
    CHECK_FALSE(parse_flags(parse_readyz_toggle_flags, "readyz-toggle", {"install", "/lameduck/install"}, install).exit_code);
    CHECK(install.command == Command::install);
    CHECK(install.install_dir == "/lameduck/install");
  }
  SUBCASE("every bad value exits 2, naming its flag") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"serve", "--listen", "7979"}, "--listen"},
        {{"serve", "--listen", "[::1]:99999"}, "--listen"},
        {{"serve", "--upstream", "ftp://x"}, "--upstream"},
        {{"serve", "--upstream-timeout", "soon"}, "--upstream-timeout"},
        {{"serve", "--upstream-timeout", "-1s"}, "--upstream-timeout"},
        {{"serve", "--start", "maybe"}, "--start"},
        {{"serve", "--log-format", "xml"}, "--log-format"},
        {{"off", "--url", "127.0.0.1:7979"}, "--url"},
        {{"on", "--timeout", "1 minute"}, "--timeout"},
        {{"install"}, "DIR"},
        {{}, "subcommand"},
    };
    for (const auto& [arguments, named] : cases) {
      CAPTURE(named);
      ReadyzToggleOptions options;
      const auto parsed = parse_flags(parse_readyz_toggle_flags, "readyz-toggle", arguments, options);
      CHECK(parsed.exit_code == 2);
      CHECK(parsed.err.find(named) != std::string::npos);
    }
  }
}

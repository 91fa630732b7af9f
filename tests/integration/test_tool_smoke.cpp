// Every tool: --help exits 0 on stdout, --version matches, a bad flag exits 2 naming it.

#include "lameduck/version.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

using lameduck::test::run_process;
using lameduck::test::tool_path;

TEST_CASE("tool smoke") {
  for (const std::string tool : {"prestop", "readyz-toggle", "drain-wait"}) {
    CAPTURE(tool);
    SUBCASE("--help") {
      const auto result = run_process({tool_path(tool), "--help"});
      CHECK(result.exit_code == 0);
      CHECK(result.stdout_text.find("--log-format") != std::string::npos);
    }
    SUBCASE("--version") {
      const auto result = run_process({tool_path(tool), "--version"});
      CHECK(result.exit_code == 0);
      CHECK(result.stdout_text == tool + " " + lameduck::k_version + "\n");
    }
    SUBCASE("an unknown flag") {
      // readyz-toggle's flags belong to its subcommands; drain-wait first wants its one required flag.
      std::vector<std::string> argv{tool_path(tool)};
      if (tool == "readyz-toggle") {
        argv.push_back("serve");
      } else if (tool == "drain-wait") {
        argv.insert(argv.end(), {"--drain-url", "http://127.0.0.1:1/drain"});
      }
      argv.push_back("--no-such-flag");
      const auto result = run_process(argv);
      CHECK(result.exit_code == 2);
      CHECK(result.stderr_text.find("--no-such-flag") != std::string::npos);
    }
  }
}

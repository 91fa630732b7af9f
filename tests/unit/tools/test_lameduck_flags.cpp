#include "cli/lameduck_flags.hpp"

#include <doctest/doctest.h>

#include <sstream>

using lameduck::cli::parse_lameduck_flags;
using lameduck::lint::LintOptions;
using lameduck::lint::OutputFormat;
using lameduck::lint::Severity;

namespace {

struct Parsed {
  std::optional<int> exit_code;
  std::string err;
};

Parsed parse(const std::vector<std::string>& arguments, LintOptions& options) {
  std::vector<const char*> argv{"lameduck"};
  for (const auto& argument : arguments) {
    argv.push_back(argument.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  const auto exit_code = parse_lameduck_flags(static_cast<int>(argv.size()), argv.data(), options, out, err);
  return {exit_code, err.str()};
}

} // namespace

TEST_CASE("parse_lameduck_flags") {
  SUBCASE("the values given, and the defaults") {
    LintOptions options;
    CHECK_FALSE(parse({"lint", "a.yaml", "-", "--output", "sarif", "--fail-on=warning"}, options).exit_code);
    CHECK(options.sources == std::vector<std::string>{"a.yaml", "-"});
    CHECK(options.output == OutputFormat::sarif);
    CHECK(options.fail_on == Severity::warning);
    LintOptions defaults;
    CHECK_FALSE(parse({"lint", "dir"}, defaults).exit_code);
    CHECK(defaults.output == OutputFormat::text);
    CHECK(defaults.fail_on == Severity::error);
    LintOptions never;
    CHECK_FALSE(parse({"lint", "dir", "--fail-on", "none"}, never).exit_code);
    CHECK_FALSE(never.fail_on);
  }
  SUBCASE("every bad value exits 2, naming its flag") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{}, "subcommand"},
        {{"lint"}, "name a manifest file"},
        {{"lint", "a.yaml", "--output", "xml"}, "--output"},
        {{"lint", "a.yaml", "--fail-on", "fatal"}, "--fail-on"},
        {{"lint", "a.yaml", "--color", "sometimes"}, "--color"},
        {{"lint", "a.yaml", "--strict"}, "--strict"},
    };
    for (const auto& [arguments, named] : cases) {
      CAPTURE(named);
      LintOptions options;
      const auto parsed = parse(arguments, options);
      CHECK(parsed.exit_code == 2);
      CHECK(parsed.err.find(named) != std::string::npos);
    }
  }
}

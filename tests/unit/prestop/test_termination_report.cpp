#include "lameduck/prestop/termination_report.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::PhaseOutcome;
using lameduck::PhaseResult;
using lameduck::TerminationReport;

namespace {

TerminationReport sample_report(PhaseOutcome drain_outcome) {
  TerminationReport report;
  report.termination_id = "e2b8c1f4";
  report.pod = "payments/ledger-agent-5c9b7d8f6-qwz4t";
  report.deadline_source = "grace-period";
  report.budget = 27s;
  report.took = 3500ms;
  report.phases = {
      {"readiness", PhaseOutcome::done, 2ms, "", lameduck::LogFields::object()},
      {"endpoints", PhaseOutcome::done, 1412ms, "not ready in 2 slices", {{"slices", 2}}},
      {"drain", drain_outcome, 2086ms, "agent reported flushed", lameduck::LogFields::object()},
  };
  return report;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

} // namespace

TEST_CASE("TerminationReport") {
  SUBCASE("complete when no phase gave up") {
    CHECK(sample_report(PhaseOutcome::done).complete());
    CHECK(sample_report(PhaseOutcome::skipped).complete());
    CHECK_FALSE(sample_report(PhaseOutcome::gave_up).complete());
  }
  SUBCASE("the summary object") {
    const auto json = sample_report(PhaseOutcome::done).to_json();
    CHECK(json["outcome"] == "drained");
    CHECK(json["ms"] == 3500);
    CHECK(json["budgetMs"] == 27000);
    CHECK(json["phases"][1] == lameduck::LogFields{{"phase", "endpoints"},
                                                   {"outcome", "done"},
                                                   {"ms", 1412},
                                                   {"reason", "not ready in 2 slices"},
                                                   {"slices", 2}});
    CHECK(sample_report(PhaseOutcome::gave_up).to_json()["outcome"] == "gave_up");
  }
}

TEST_CASE("write_report") {
  const auto dir = std::filesystem::temp_directory_path() / ("lameduck-report-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> logged;
  const lameduck::Logger log("prestop", lameduck::LogFormat::json, lameduck::LogLevel::info,
                             [&](std::string_view line) { logged.emplace_back(line); });
  lameduck::ReportSinks sinks{dir / "termination-log", dir / "stdout"};
  std::ofstream{sinks.container_stdout}; // PID 1's stdout always exists; a plain file stands in for it

  SUBCASE("the same line goes to stderr, the container's stdout and the termination log") {
    write_report(sample_report(PhaseOutcome::done), sinks, log);
    REQUIRE(logged.size() == 1);
    CHECK(logged.front().find("\"event\":\"prestop.summary\"") != std::string::npos);
    CHECK(read_file(sinks.termination_log) == logged.front());
    CHECK(read_file(sinks.container_stdout) == logged.front());
  }
  SUBCASE("an oversized summary still fits the termination log as whole JSON") {
    auto report = sample_report(PhaseOutcome::gave_up);
    report.phases[2].reason = std::string(5000, 'x');
    write_report(report, sinks, log);
    const std::string written = read_file(sinks.termination_log);
    CHECK(written.size() <= lameduck::k_termination_log_limit);
    CHECK_FALSE(nlohmann::json::parse(written, nullptr, false).is_discarded());
  }
  SUBCASE("an unwritable sink is logged, not fatal") {
    sinks.termination_log = dir / "missing" / "termination-log";
    write_report(sample_report(PhaseOutcome::done), sinks, log);
    REQUIRE(logged.size() == 2);
    CHECK(logged[1].find("\"event\":\"report.failed\"") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

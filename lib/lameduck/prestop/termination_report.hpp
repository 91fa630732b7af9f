#pragma once

// prestop's summary: every phase's outcome, time and reason in one JSON line. The kubelet
// keeps no output of exec hooks, so the line goes where people will look: stderr, the
// container's own stdout (/proc/1/fd/1, which `kubectl logs` shows) and the termination log
// (which `kubectl describe pod` shows).

#include "lameduck/core/duration.hpp"
#include "lameduck/core/log.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck {

enum class PhaseOutcome {
  done,    // reached its goal
  skipped, // not configured, or nothing to do
  gave_up, // timed out or a dependency failed; the next phase still ran
};

std::string_view phase_outcome_name(PhaseOutcome outcome);

struct PhaseResult {
  std::string phase;
  PhaseOutcome outcome = PhaseOutcome::skipped;
  Duration took{0};
  std::string reason;
  LogFields details = LogFields::object(); // phase-specific figures
};

struct TerminationReport {
  std::string termination_id;
  std::string pod; // namespace/name
  std::string deadline_source;
  Duration budget{0};
  Duration took{0};
  std::vector<PhaseResult> phases;

  // Every phase reached its goal or had nothing to do.
  bool complete() const;
  // Compact leaves out reasons and details, to fit the termination log.
  LogFields to_json(bool compact = false) const;
};

struct ReportSinks {
  std::filesystem::path termination_log; // empty: none
  std::filesystem::path container_stdout = "/proc/1/fd/1";
};

// The kubelet reads at most this much of a termination log.
inline constexpr std::size_t k_termination_log_limit = 4096;

// Logs the summary as event "prestop.summary" and copies the same line to the sinks; a sink
// that cannot be written is logged and skipped.
void write_report(const TerminationReport& report, const ReportSinks& sinks, const Logger& log);

} // namespace lameduck

#include "lameduck/prestop/termination_report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace lameduck {

namespace {

// Appends the whole line or reports why not. Non-blocking: a full pipe on PID 1's stdout must
// not hold the hook.
std::string append_line(const std::filesystem::path& path, std::string_view line, bool truncate) {
  const int flags = O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (truncate ? O_CREAT | O_TRUNC : O_APPEND);
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    return std::strerror(errno);
  }
  const ssize_t written = ::write(fd, line.data(), line.size());
  const int write_errno = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    return written < 0 ? std::strerror(write_errno) : "short write";
  }
  return {};
}

} // namespace

std::string_view phase_outcome_name(PhaseOutcome outcome) {
  switch (outcome) {
  case PhaseOutcome::done:
    return "done";
  case PhaseOutcome::skipped:
    return "skipped";
  case PhaseOutcome::gave_up:
    return "gave_up";
  }
  return "gave_up";
}

bool TerminationReport::complete() const {
  return std::none_of(phases.begin(), phases.end(),
                      [](const PhaseResult& phase) { return phase.outcome == PhaseOutcome::gave_up; });
}

LogFields TerminationReport::to_json(bool compact) const {
  LogFields out = LogFields::object();
  out["outcome"] = complete() ? "drained" : "gave_up";
  out["terminationId"] = termination_id;
  out["pod"] = pod;
  out["ms"] = to_ms(took);
  out["budgetMs"] = to_ms(budget);
  out["deadlineFrom"] = deadline_source;
  LogFields phase_list = LogFields::array();
  for (const PhaseResult& phase : phases) {
    LogFields entry = LogFields::object();
    entry["phase"] = phase.phase;
    entry["outcome"] = phase_outcome_name(phase.outcome);
    entry["ms"] = to_ms(phase.took);
    if (compact) {
      phase_list.push_back(std::move(entry));
      continue;
    }
    if (!phase.reason.empty()) {
      entry["reason"] = phase.reason;
    }
    for (const auto& [key, value] : phase.details.items()) {
      entry[key] = value;
    }
    phase_list.push_back(std::move(entry));
  }
  out["phases"] = std::move(phase_list);
  return out;
}

void write_report(const TerminationReport& report, const ReportSinks& sinks, const Logger& log) {
  const auto level = report.complete() ? LogLevel::info : LogLevel::warn;
  const std::string message = report.complete() ? "drained: every phase completed" : "gave up in at least one phase";
  const LogFields summary = report.to_json();
  std::string line = log.write(level, "prestop.summary", message, summary);
  if (line.empty()) {
    line = log.render(level, "prestop.summary", message, summary);
  }
  if (!sinks.container_stdout.empty()) {
    if (const auto why = append_line(sinks.container_stdout, line, false); !why.empty()) {
      log.debug("report.skipped", "cannot write the summary to the container's stdout",
                {{"path", sinks.container_stdout.string()}, {"why", why}});
    }
  }
  if (!sinks.termination_log.empty()) {
    // Beyond 4096 bytes the kubelet cuts the message: keep it whole JSON by leaving out details.
    const std::string fitting =
        line.size() <= k_termination_log_limit ? line : log.render(level, "prestop.summary", message, report.to_json(true));
    if (const auto why = append_line(sinks.termination_log, fitting, true); !why.empty()) {
      log.warn("report.failed", "cannot write the termination log",
               {{"path", sinks.termination_log.string()}, {"why", why}});
    }
  }
}

} // namespace lameduck

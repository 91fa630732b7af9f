#include "lameduck/drain/signal_step.hpp"

#include "lameduck/drain/pod_process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace lameduck {

namespace {

std::vector<pid_t> running(const std::vector<pid_t>& pids) {
  std::vector<pid_t> out;
  std::copy_if(pids.begin(), pids.end(), std::back_inserter(out), [](pid_t pid) { return process_running(pid); });
  return out;
}

} // namespace

StepResult run_signal_step(const DrainStep& step, const Deadline& deadline, const Logger& logger) {
  const auto started = Clock::now();
  std::vector<pid_t> targets;
  if (!step.pid_file.empty()) {
    const auto pid = read_pid_file(step.pid_file);
    if (!pid) {
      return {StepOutcome::skipped, pid.error().message + "; nothing to signal", LogFields::object()};
    }
    if (!process_running(*pid)) {
      return {StepOutcome::skipped, "process " + std::to_string(*pid) + " of " + step.pid_file + " is not running",
              LogFields::object()};
    }
    targets = {*pid};
  } else {
    targets = topmost(find_processes_by_name(step.process_name));
    if (targets.empty()) {
      return {StepOutcome::skipped,
              "no process named " + step.process_name +
                  " (another container's processes are seen only with shareProcessNamespace: true)",
              LogFields::object()};
    }
  }
  const std::vector<pid_t> group = with_descendants(targets);
  const auto at_start = count_process_sockets(socket_inodes(group));
  const bool listened = at_start && at_start->listening > 0;

  LogFields details{{"pids", targets}, {"signal", step.signal_name}, {"processes", group.size()}};
  if (at_start) {
    details["listening"] = at_start->listening;
    details["connections"] = at_start->connections;
  }
  for (const pid_t pid : targets) {
    if (::kill(pid, step.signal_number) != 0) {
      const std::string why = std::strerror(errno);
      return {StepOutcome::gave_up, "cannot send SIG" + step.signal_name + " to " + std::to_string(pid) + ": " + why,
              details};
    }
  }
  logger.info("step.signalled", "sent SIG" + step.signal_name + "; waiting until it has stopped serving",
              {{"target", drain_step_target(step)}, {"pids", targets}});

  ProcessSockets last{};
  while (true) {
    const auto alive = running(group);
    const auto took = std::to_string(to_ms(Clock::now() - started));
    if (alive.empty()) {
      details["exited"] = true;
      return {StepOutcome::done, "exited " + took + " ms after SIG" + step.signal_name, details};
    }
    // A server that closes its listeners and then its connections has stopped serving, even
    // while its processes linger; one that never listened is done only when it has exited.
    if (listened) {
      if (const auto now = count_process_sockets(socket_inodes(alive))) {
        last = *now;
        if (now->listening == 0 && now->connections == 0) {
          details["exited"] = false;
          return {StepOutcome::done,
                  "no listener and no connection left " + took + " ms after SIG" + step.signal_name, details};
        }
      }
    }
    if (deadline.expired()) {
      details["exited"] = false;
      std::string reason = std::to_string(alive.size()) + " process(es) still running at the step's deadline";
      if (listened) {
        reason += ", with " + std::to_string(last.listening) + " listening socket(s) and " +
                  std::to_string(last.connections) + " connection(s)";
      }
      return {StepOutcome::gave_up, reason, details};
    }
    sleep_within(k_signal_step_poll, deadline);
  }
}

} // namespace lameduck

#pragma once

// A real child process for integration tests: its stdout and stderr are collected line by
// line as they come, so that a test can wait for an event (a port announced, a line logged)
// instead of sleeping.

#include "lameduck/core/deadline.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace lameduck::test {

// Where the built tools are: tool_path("prestop").
std::string tool_path(std::string_view tool);

struct ProcessOptions {
  // Added to (or, with an empty value, removed from) the parent's environment.
  std::map<std::string, std::string> environment;
  std::string working_directory;
  std::string stdin_text; // written to the child's stdin, which is then closed
};

class Process {
public:
  Process(std::vector<std::string> argv, ProcessOptions options = {});
  ~Process(); // kills a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return m_pid; }

  // The first stderr line (already seen or still to come) for which `matches` is true.
  std::optional<std::string> wait_for_stderr(const std::function<bool(const std::string&)>& matches,
                                             const Deadline& deadline);
  std::optional<std::string> wait_for_stderr_containing(std::string_view needle, const Deadline& deadline);
  std::optional<std::string> wait_for_stdout_containing(std::string_view needle, const Deadline& deadline);
  // The first JSON log line whose "event" is `event`.
  std::optional<nlohmann::json> wait_for_event(std::string_view event, const Deadline& deadline);

  std::vector<std::string> stderr_lines() const;
  std::vector<std::string> stdout_lines() const;
  std::string stdout_text() const;
  std::string stderr_text() const;

  void send_signal(int signal_number) const;
  // The exit code, or 128 + the signal that ended it; nothing when still running at the deadline.
  std::optional<int> wait_exit(const Deadline& deadline);
  // Runs to the end; a child not over within `limit` is killed, and the result is -1.
  int finish(Duration limit = std::chrono::seconds{20});
  // From just before the spawn to the moment wait_exit saw the child end (zero before that):
  // an outside view of the process's whole life, exec and start-up included.
  Duration lifetime() const {
    return m_exited_at ? std::chrono::duration_cast<Duration>(*m_exited_at - m_spawned_at) : Duration::zero();
  }

private:
  void collect(int fd, std::vector<std::string>& lines);
  std::optional<std::string> wait_for_line(const std::vector<std::string>& lines, int stream,
                                           const std::function<bool(const std::string&)>& matches,
                                           const Deadline& deadline);

  pid_t m_pid = -1;
  std::optional<int> m_exit;
  Clock::time_point m_spawned_at;
  std::optional<Clock::time_point> m_exited_at;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<std::string> m_stdout;
  std::vector<std::string> m_stderr;
  bool m_streams_closed[2] = {false, false};
  std::thread m_stdout_reader;
  std::thread m_stderr_reader;
};

// Runs a command to the end and returns its exit code with its output.
struct Finished {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};
Finished run_process(std::vector<std::string> argv, ProcessOptions options = {},
                     Duration limit = std::chrono::seconds{20});

} // namespace lameduck::test

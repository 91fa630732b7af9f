#include "support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace lameduck::test {

namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& changes) {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto equals = text.find('=');
    variables[text.substr(0, equals)] = equals == std::string::npos ? "" : text.substr(equals + 1);
  }
  for (const auto& [name, value] : changes) {
    if (value.empty()) {
      variables.erase(name);
    } else {
      variables[name] = value;
    }
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : variables) {
    out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& text : strings) {
    out.push_back(text.data());
  }
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

} // namespace

std::string tool_path(std::string_view tool) {
  return std::string(LAMEDUCK_TOOLS_DIR) + "/" + std::string(tool);
}

Process::Process(std::vector<std::string> argv, ProcessOptions options) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }
  // Its own process group, so that killing it also ends whatever it started.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  auto environment = merged_environment(options.environment);
  auto argv_pointers = pointers(argv);
  auto environment_pointers = pointers(environment);
  m_spawned_at = Clock::now();
  const int spawned = posix_spawn(&m_pid, argv_pointers[0], &actions, &attributes, argv_pointers.data(),
                                  environment_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_pipe[0]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::close(in_pipe[1]);
    throw std::runtime_error("cannot start " + argv.front() + ": " + std::strerror(spawned));
  }
  if (!options.stdin_text.empty()) {
    [[maybe_unused]] const auto written = ::write(in_pipe[1], options.stdin_text.data(), options.stdin_text.size());
  }
  ::close(in_pipe[1]);
  m_stdout_reader = std::thread([this, fd = out_pipe[0]] { collect(fd, m_stdout); });
  m_stderr_reader = std::thread([this, fd = err_pipe[0]] { collect(fd, m_stderr); });
}

Process::~Process() {
  if (!m_exit) {
    ::kill(-m_pid, SIGKILL);
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
  }
  // The readers end when every holder of the pipes' write ends is gone.
  ::kill(-m_pid, SIGKILL);
  m_stdout_reader.join();
  m_stderr_reader.join();
}

void Process::collect(int fd, std::vector<std::string>& lines) {
  std::string pending;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    pending.append(buffer, static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = pending.find('\n')) != std::string::npos) {
      {
        const std::lock_guard lock(m_mutex);
        lines.push_back(pending.substr(0, newline));
      }
      m_changed.notify_all();
      pending.erase(0, newline + 1);
    }
  }
  ::close(fd);
  const std::lock_guard lock(m_mutex);
  if (!pending.empty()) {
    lines.push_back(pending);
  }
  m_streams_closed[&lines == &m_stdout ? 0 : 1] = true;
  m_changed.notify_all();
}

std::optional<std::string> Process::wait_for_line(const std::vector<std::string>& lines, int stream,
                                                  const std::function<bool(const std::string&)>& matches,
                                                  const Deadline& deadline) {
  std::unique_lock lock(m_mutex);
  std::size_t checked = 0;
  std::optional<std::string> found;
  m_changed.wait_until(lock, deadline.when(), [&] {
    for (; checked < lines.size(); ++checked) {
      if (matches(lines[checked])) {
        found = lines[checked];
        return true;
      }
    }
    return m_streams_closed[stream];
  });
  return found;
}

std::optional<std::string> Process::wait_for_stderr(const std::function<bool(const std::string&)>& matches,
                                                    const Deadline& deadline) {
  return wait_for_line(m_stderr, 1, matches, deadline);
}

std::optional<std::string> Process::wait_for_stdout_containing(std::string_view needle, const Deadline& deadline) {
  return wait_for_line(
      m_stdout, 0, [needle](const std::string& line) { return line.find(needle) != std::string::npos; }, deadline);
}

std::optional<std::string> Process::wait_for_stderr_containing(std::string_view needle, const Deadline& deadline) {
  return wait_for_stderr([needle](const std::string& line) { return line.find(needle) != std::string::npos; },
                         deadline);
}

std::optional<nlohmann::json> Process::wait_for_event(std::string_view event, const Deadline& deadline) {
  const auto line = wait_for_stderr(
      [event](const std::string& text) {
        const auto parsed = nlohmann::json::parse(text, nullptr, false);
        return parsed.is_object() && parsed.value("event", "") == event;
      },
      deadline);
  if (!line) {
    return std::nullopt;
  }
  return nlohmann::json::parse(*line);
}

std::vector<std::string> Process::stderr_lines() const {
  const std::lock_guard lock(m_mutex);
  return m_stderr;
}

std::vector<std::string> Process::stdout_lines() const {
  const std::lock_guard lock(m_mutex);
  return m_stdout;
}

std::string Process::stdout_text() const {
  return join_lines(stdout_lines());
}

std::string Process::stderr_text() const {
  return join_lines(stderr_lines());
}

void Process::send_signal(int signal_number) const {
  ::kill(m_pid, signal_number);
}

std::optional<int> Process::wait_exit(const Deadline& deadline) {
  if (m_exit) {
    return m_exit;
  }
  // A pidfd turns "has it exited?" into something poll() can wait on, with no polling loop.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0));
  if (pidfd < 0) {
    throw std::runtime_error("pidfd_open failed");
  }
  pollfd entry{pidfd, POLLIN, 0};
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, static_cast<int>(left));
  } while (ready < 0 && errno == EINTR);
  ::close(pidfd);
  if (ready <= 0) {
    return std::nullopt;
  }
  m_exited_at = Clock::now();
  int status = 0;
  if (::waitpid(m_pid, &status, 0) == m_pid) {
    m_exit = decode_status(status);
  }
  // Let the readers take in the last lines before anyone looks at them; a grandchild that
  // still holds the pipes open must not hold the test.
  const auto drained = deadline.within(std::chrono::milliseconds{500});
  std::unique_lock lock(m_mutex);
  m_changed.wait_until(lock, drained.when(), [this] { return m_streams_closed[0] && m_streams_closed[1]; });
  return m_exit;
}

int Process::finish(Duration limit) {
  const auto code = wait_exit(Deadline::after(limit));
  if (!code) {
    std::fprintf(stderr, "process %d still running after %lld ms: killed\n", static_cast<int>(m_pid), to_ms(limit));
    ::kill(-m_pid, SIGKILL);
    wait_exit(Deadline::after(std::chrono::seconds{5}));
    return -1;
  }
  return *code;
}

Finished run_process(std::vector<std::string> argv, ProcessOptions options, Duration limit) {
  Process process(std::move(argv), std::move(options));
  Finished finished;
  finished.exit_code = process.finish(limit);
  finished.stdout_text = process.stdout_text();
  finished.stderr_text = process.stderr_text();
  return finished;
}

} // namespace lameduck::test

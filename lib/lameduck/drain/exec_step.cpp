#include "lameduck/drain/exec_step.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace lameduck {

namespace {

// How often the command is asked whether it has exited; it costs one waitpid.
constexpr auto k_exec_poll = std::chrono::milliseconds{10};

} // namespace

StepResult run_exec_step(const DrainStep& step, const Deadline& deadline, const Logger& logger) {
  const auto started = Clock::now();
  std::vector<char*> argv;
  for (const auto& arg : step.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own group, to be killed whole; default dispositions, since an ignored SIGPIPE (ours)
  // would be inherited through exec.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);

  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv.front(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return {StepOutcome::gave_up, "cannot run " + step.argv.front() + ": " + std::strerror(spawned),
            LogFields::object()};
  }
  logger.info("step.started", "running the command", {{"argv", step.argv}, {"pid", pid}});

  while (true) {
    int status = 0;
    const pid_t ended = ::waitpid(pid, &status, WNOHANG);
    const auto took = std::to_string(to_ms(Clock::now() - started));
    if (ended == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return {StepOutcome::done, "exited 0 after " + took + " ms", {{"exitCode", 0}}};
      }
      if (WIFEXITED(status)) {
        return {StepOutcome::gave_up, "exited " + std::to_string(WEXITSTATUS(status)) + " after " + took + " ms",
                {{"exitCode", WEXITSTATUS(status)}}};
      }
      return {StepOutcome::gave_up,
              "ended by signal " + std::to_string(WTERMSIG(status)) + " after " + took + " ms",
              {{"signal", WTERMSIG(status)}}};
    }
    if (ended < 0 && errno != EINTR) {
      return {StepOutcome::gave_up, std::string("cannot wait for the command: ") + std::strerror(errno),
              LogFields::object()};
    }
    if (deadline.expired()) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {StepOutcome::gave_up,
              "still running at the step's timeout after " + took + " ms; its process group was killed",
              {{"killed", true}}};
    }
    sleep_within(k_exec_poll, deadline);
  }
}

} // namespace lameduck

#include "lameduck/core/fd_wait.hpp"

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <optional>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::wait_for_fd;
using lameduck::test::k_scheduling_slack;

namespace {

std::atomic<int> g_interruptions{0};
std::atomic<int> g_write_after{0}; // on this interruption the handler makes the pipe readable
std::atomic<int> g_pipe_write_fd{-1};

void count_interruption(int) {
  const int count = ++g_interruptions;
  if (count == g_write_after.load()) {
    const char byte = 'x';
    [[maybe_unused]] const auto written = ::write(g_pipe_write_fd.load(), &byte, 1);
  }
}

// SIGUSR2 every 5 ms to this thread only, as libFuzzer's SIGALRM timer or a shutdown
// signal's handler would interrupt a wait; the handler is installed without SA_RESTART,
// though poll() would not be restarted with it either.
class InterruptingTimer {
public:
  InterruptingTimer() {
    struct sigaction action{};
    action.sa_handler = count_interruption;
    sigemptyset(&action.sa_mask);
    REQUIRE(::sigaction(SIGUSR2, &action, &m_previous) == 0);
    sigevent event{};
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = SIGUSR2;
    event._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    REQUIRE(::timer_create(CLOCK_MONOTONIC, &event, &m_timer) == 0);
    const itimerspec every_5ms{.it_interval = {0, 5'000'000}, .it_value = {0, 5'000'000}};
    REQUIRE(::timer_settime(m_timer, 0, &every_5ms, nullptr) == 0);
  }
  ~InterruptingTimer() {
    ::timer_delete(m_timer);
    ::sigaction(SIGUSR2, &m_previous, nullptr);
  }
  InterruptingTimer(const InterruptingTimer&) = delete;
  InterruptingTimer& operator=(const InterruptingTimer&) = delete;

private:
  timer_t m_timer{};
  struct sigaction m_previous{};
};

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    ::close(read_end);
    ::close(write_end);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

} // namespace

TEST_CASE("wait_for_fd") {
  Pipe pipe;

  SUBCASE("ready at once when the descriptor already is") {
    REQUIRE(::write(pipe.write_end, "x", 1) == 1);
    const auto ready = wait_for_fd(pipe.read_end, POLLIN, Deadline::after(10s));
    REQUIRE(ready.has_value());
    CHECK(*ready);
  }
  SUBCASE("false at the deadline, not before") {
    const auto start = Clock::now();
    const auto ready = wait_for_fd(pipe.read_end, POLLIN, Deadline::after(50ms));
    REQUIRE(ready.has_value());
    CHECK_FALSE(*ready);
    CHECK(Clock::now() - start >= 50ms);
  }
  SUBCASE("signals that interrupt the wait are waited through, to the deadline") {
    g_interruptions = 0;
    g_write_after = 0;
    const auto start = Clock::now();
    std::optional<lameduck::Expected<bool>> ready;
    {
      const InterruptingTimer timer;
      ready.emplace(wait_for_fd(pipe.read_end, POLLIN, Deadline::after(300ms)));
    }
    const auto waited = Clock::now() - start;
    REQUIRE(ready->has_value());
    CHECK_FALSE(**ready);
    CHECK(waited >= 300ms);
    CHECK(waited < 300ms + k_scheduling_slack);
    // The wait really was interrupted, many times over.
    CHECK(g_interruptions.load() >= 10);
  }
  SUBCASE("signals that interrupt the wait are waited through, to the descriptor's readiness") {
    g_interruptions = 0;
    g_pipe_write_fd = pipe.write_end;
    g_write_after = 5;
    std::optional<lameduck::Expected<bool>> ready;
    {
      const InterruptingTimer timer;
      ready.emplace(wait_for_fd(pipe.read_end, POLLIN, Deadline::after(10s)));
    }
    REQUIRE(ready->has_value());
    CHECK(**ready);
    CHECK(g_interruptions.load() >= 5);
  }
}

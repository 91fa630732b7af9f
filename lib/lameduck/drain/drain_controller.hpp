#pragma once

// Drain protocol v1, the agent side, for agents that embed it: serves the drain endpoint on
// the agent's own cpp-httplib server, counts work in flight with RAII guards, refuses new work
// once draining, runs the agent's flush when the last piece of work ends, and reports
// "flushed" only after that flush succeeded. Status requests honour the waitMs long-poll.

#include "lameduck/core/duration.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_status.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace lameduck {

class DrainController {
public:
  // Writes the agent's state to durable storage; called once per drain, on a thread of its
  // own, after the last work guard is gone. An error is logged and the flush retried.
  using Flush = std::function<Expected<Done>(const std::string& termination_id)>;

  // Holds one piece of work in flight; the flush waits for every guard to end.
  class WorkGuard {
  public:
    explicit WorkGuard(DrainController& controller) : m_controller(&controller) {}
    ~WorkGuard();
    WorkGuard(WorkGuard&& other) noexcept : m_controller(std::exchange(other.m_controller, nullptr)) {}
    WorkGuard& operator=(WorkGuard&&) = delete;
    WorkGuard(const WorkGuard&) = delete;
    WorkGuard& operator=(const WorkGuard&) = delete;

  private:
    DrainController* m_controller;
  };

  DrainController(Flush flush, const Logger& logger);
  ~DrainController();
  DrainController(const DrainController&) = delete;
  DrainController& operator=(const DrainController&) = delete;

  // POST path starts the drain, GET path answers the status (with ?waitMs=N). Give the server
  // set_tcp_nodelay(true), or a status answer can wait ~40 ms for a delayed ACK.
  void serve_on(httplib::Server& server, const std::string& path = "/drain");

  // A guard for new work, or nothing once draining: the caller then answers 503 with
  // `Connection: close`, so clients retry on another pod.
  std::optional<WorkGuard> begin_work();

  // Starts draining for `termination_id`; a repeat with the same id changes nothing, another
  // id is logged and joins the drain already under way. Returns the status after it.
  DrainStatus start_drain(const std::string& termination_id);

  DrainStatus status() const;
  // The status once it differs from `seen`, or after `wait`, whichever comes first.
  DrainStatus wait_for_change(const DrainStatus& seen, Duration wait) const;
  std::string termination_id() const;

private:
  void end_work();
  void flush_when_idle();

  Flush m_flush;
  const Logger& m_logger;
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  DrainStatus m_status;
  std::string m_termination_id;
  bool m_stopping = false;
  std::thread m_flusher;
};

// The longest a status request is held, whatever waitMs asks.
inline constexpr auto k_max_status_hold = std::chrono::seconds{30};

} // namespace lameduck

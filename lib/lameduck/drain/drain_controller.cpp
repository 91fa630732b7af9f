#include "lameduck/drain/drain_controller.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <charconv>

namespace lameduck {

namespace {

constexpr auto k_flush_retry = std::chrono::milliseconds{200};

// "?waitMs=N": 0 when absent or not a number, at most k_max_status_hold.
Duration requested_wait(const httplib::Request& request) {
  const std::string text = request.get_param_value("waitMs");
  long long ms = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (error != std::errc{} || end != text.data() + text.size() || ms < 0) {
    return Duration::zero();
  }
  return std::min<Duration>(std::chrono::milliseconds{ms}, k_max_status_hold);
}

} // namespace

DrainController::WorkGuard::~WorkGuard() {
  if (m_controller != nullptr) {
    m_controller->end_work();
  }
}

DrainController::DrainController(Flush flush, const Logger& logger) : m_flush(std::move(flush)), m_logger(logger) {}

DrainController::~DrainController() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  if (m_flusher.joinable()) {
    m_flusher.join();
  }
}

std::optional<DrainController::WorkGuard> DrainController::begin_work() {
  const std::lock_guard lock(m_mutex);
  if (m_status.state != DrainState::accepting) {
    return std::nullopt;
  }
  ++m_status.inflight;
  m_changed.notify_all();
  return WorkGuard(*this);
}

void DrainController::end_work() {
  const std::lock_guard lock(m_mutex);
  --m_status.inflight;
  m_changed.notify_all();
}

DrainStatus DrainController::start_drain(const std::string& termination_id) {
  std::unique_lock lock(m_mutex);
  if (m_status.state != DrainState::accepting) {
    if (termination_id != m_termination_id) {
      m_logger.warn("drain.other_id", "a drain is already under way for another termination id; joining it",
                    {{"termination_id", termination_id}, {"draining_for", m_termination_id}});
    }
    return m_status;
  }
  m_status.state = DrainState::draining;
  m_termination_id = termination_id;
  m_logger.info("drain.started", "draining: no new work, finishing what is in flight",
                {{"termination_id", termination_id}, {"inflight", m_status.inflight}});
  m_changed.notify_all();
  m_flusher = std::thread([this] { flush_when_idle(); });
  return m_status;
}

void DrainController::flush_when_idle() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_changed.wait(lock, [this] { return m_stopping || m_status.inflight == 0; });
    if (m_stopping) {
      return;
    }
    const std::string id = m_termination_id;
    lock.unlock();
    const auto flushed = m_flush(id);
    lock.lock();
    if (flushed) {
      m_status.state = DrainState::flushed;
      m_logger.info("drain.flushed", "state flushed", {{"termination_id", id}});
      m_changed.notify_all();
      return;
    }
    m_logger.error("drain.flush_failed", flushed.error().message + "; retrying", {{"termination_id", id}});
    if (m_changed.wait_for(lock, k_flush_retry, [this] { return m_stopping; })) {
      return;
    }
  }
}

DrainStatus DrainController::status() const {
  const std::lock_guard lock(m_mutex);
  return m_status;
}

DrainStatus DrainController::wait_for_change(const DrainStatus& seen, Duration wait) const {
  std::unique_lock lock(m_mutex);
  m_changed.wait_for(lock, wait, [&] { return m_stopping || m_status != seen; });
  return m_status;
}

std::string DrainController::termination_id() const {
  const std::lock_guard lock(m_mutex);
  return m_termination_id;
}

void DrainController::serve_on(httplib::Server& server, const std::string& path) {
  server.Post(path, [this](const httplib::Request& request, httplib::Response& response) {
    std::string id = request.get_header_value("Idempotency-Key");
    if (id.empty()) {
      const auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_object() && body.contains("terminationId") && body["terminationId"].is_string()) {
        id = body["terminationId"].get<std::string>();
      }
    }
    if (id.empty()) {
      response.status = 400;
      response.set_content(R"({"error":"an Idempotency-Key header or a terminationId is required"})" "\n",
                           "application/json");
      return;
    }
    const DrainStatus status = start_drain(id);
    response.status = 202;
    response.set_content(drain_status_json(status) + "\n", "application/json");
  });
  server.Get(path, [this](const httplib::Request& request, httplib::Response& response) {
    const DrainStatus seen = status();
    const Duration wait = requested_wait(request);
    // "flushed" is final and is what the client waits for: never hold it back.
    const bool hold = wait > Duration::zero() && seen.state != DrainState::flushed;
    const DrainStatus now = hold ? wait_for_change(seen, wait) : seen;
    response.set_content(drain_status_json(now) + "\n", "application/json");
  });
}

} // namespace lameduck

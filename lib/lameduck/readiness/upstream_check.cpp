#include "lameduck/readiness/upstream_check.hpp"

#include "lameduck/http/http_client.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace lameduck {

namespace {

constexpr std::size_t k_max_upstream_body_bytes = 64 * 1024;

std::string ask_upstream(const Url& upstream, Duration timeout) {
  HttpClientOptions options;
  options.connect_timeout = timeout;
  options.keep_alive = false;
  options.max_body_bytes = k_max_upstream_body_bytes;
  options.user_agent = "lameduck-readyz-toggle";
  HttpClient client(upstream, options);
  const auto answer = client.send(
      {.method = "GET", .target = upstream.target, .headers = {}, .body = {}, .content_type = {}},
      Deadline::after(timeout));
  if (!answer) {
    return "upstream " + upstream.text() + ": " + answer.error().message;
  }
  if (answer->status < 200 || answer->status >= 400) {
    return "upstream " + upstream.text() + " answered " + std::to_string(answer->status);
  }
  return {};
}

} // namespace

// What the checking thread and the loop share; the thread holds it until it ends, so a
// server that goes away while a check is in flight leaves it nothing dangling.
struct UpstreamCheck::Shared {
  Shared() : event_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (event_fd < 0) {
      throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }
  }
  ~Shared() { ::close(event_fd); }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  void finish(std::string problem) {
    {
      const std::lock_guard lock(mutex);
      outcome = std::move(problem);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(event_fd, &one, sizeof one);
  }

  int event_fd;
  std::mutex mutex;
  std::optional<std::string> outcome;
};

UpstreamCheck::UpstreamCheck(Url upstream, Duration timeout)
    : m_upstream(std::move(upstream)), m_timeout(timeout), m_shared(std::make_shared<Shared>()) {}

UpstreamCheck::~UpstreamCheck() = default;

int UpstreamCheck::fd() const {
  return m_shared->event_fd;
}

void UpstreamCheck::start() {
  if (m_in_flight) {
    return;
  }
  m_in_flight = true;
  try {
    std::thread([shared = m_shared, upstream = m_upstream, timeout = m_timeout] {
      shared->finish(ask_upstream(upstream, timeout));
    }).detach();
  } catch (const std::system_error& error) {
    m_shared->finish("cannot start the upstream check: " + std::string(error.what()));
  }
}

std::optional<std::string> UpstreamCheck::take_outcome() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto read = ::read(m_shared->event_fd, &count, sizeof count);
  const std::lock_guard lock(m_shared->mutex);
  auto outcome = std::move(m_shared->outcome);
  m_shared->outcome.reset();
  if (outcome) {
    m_in_flight = false;
  }
  return outcome;
}

} // namespace lameduck

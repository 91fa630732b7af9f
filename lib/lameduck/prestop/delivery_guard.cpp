#include "lameduck/prestop/delivery_guard.hpp"

#include "lameduck/core/durable_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace lameduck {

namespace {

// Termination ids are UIDs or our own random ids; anything else is made safe for a file name.
std::string file_safe(const std::string& id) {
  std::string out;
  for (char c : id) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
    out += safe ? c : '_';
  }
  return out.empty() || out.front() == '.' ? "id" + out : out;
}

std::optional<nlohmann::json> read_result(const std::filesystem::path& path) {
  const auto read = read_small_file(path.string());
  if (!read || read->missing) {
    return std::nullopt;
  }
  auto parsed = nlohmann::json::parse(read->content, nullptr, false);
  if (parsed.is_discarded()) {
    return std::nullopt; // A torn or foreign file is not a result; the lock decides.
  }
  return parsed;
}

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

std::string_view delivery_role_name(DeliveryGuard::Role role) {
  switch (role) {
  case DeliveryGuard::Role::first:
    return "first";
  case DeliveryGuard::Role::waited:
    return "waited";
  case DeliveryGuard::Role::repeated:
    return "repeated";
  case DeliveryGuard::Role::timed_out:
    return "timed_out";
  }
  return "first";
}

DeliveryGuard::DeliveryGuard(Role role, int lock_fd, std::filesystem::path result_path,
                             std::optional<nlohmann::json> result)
    : m_role(role), m_lock_fd(lock_fd), m_result_path(std::move(result_path)), m_earlier_result(std::move(result)) {}

DeliveryGuard::DeliveryGuard(DeliveryGuard&& other) noexcept
    : m_role(other.m_role), m_lock_fd(std::exchange(other.m_lock_fd, -1)),
      m_result_path(std::move(other.m_result_path)), m_earlier_result(std::move(other.m_earlier_result)) {}

DeliveryGuard& DeliveryGuard::operator=(DeliveryGuard&& other) noexcept {
  if (this != &other) {
    if (m_lock_fd >= 0) {
      ::close(m_lock_fd);
    }
    m_role = other.m_role;
    m_lock_fd = std::exchange(other.m_lock_fd, -1);
    m_result_path = std::move(other.m_result_path);
    m_earlier_result = std::move(other.m_earlier_result);
  }
  return *this;
}

DeliveryGuard::~DeliveryGuard() {
  if (m_lock_fd >= 0) {
    ::close(m_lock_fd); // also releases the flock
  }
}

Expected<DeliveryGuard> DeliveryGuard::acquire(const std::filesystem::path& state_dir,
                                               const std::string& termination_id, const Deadline& deadline,
                                               const std::function<void()>& on_waiting) {
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    return unexpected("cannot create the state directory " + state_dir.string() + ": " + error.message());
  }
  const std::string name = file_safe(termination_id);
  const auto result_path = state_dir / (name + ".result.json");
  const auto lock_path = state_dir / (name + ".lock");

  if (auto earlier = read_result(result_path)) {
    return DeliveryGuard(Role::repeated, -1, result_path, std::move(earlier));
  }

  // Watch before trying the lock, so that no release or result between the two is missed.
  const int watch_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (watch_fd < 0) {
    return unexpected("inotify_init1 failed: " + errno_text());
  }
  struct WatchCloser {
    int fd;
    ~WatchCloser() { ::close(fd); }
  } watch_closer{watch_fd};
  // A lock holder that exits, however it dies, closes its lock file: IN_CLOSE_WRITE.
  if (::inotify_add_watch(watch_fd, state_dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    return unexpected("cannot watch " + state_dir.string() + ": " + errno_text());
  }
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return unexpected("cannot open " + lock_path.string() + ": " + errno_text());
  }

  bool waited = false;
  while (true) {
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
      // The holder may have finished between our first look and the lock.
      if (auto earlier = read_result(result_path)) {
        ::close(lock_fd);
        return DeliveryGuard(waited ? Role::waited : Role::repeated, -1, result_path, std::move(earlier));
      }
      return DeliveryGuard(Role::first, lock_fd, result_path, std::nullopt);
    }
    if (errno != EWOULDBLOCK) {
      ::close(lock_fd);
      return unexpected("cannot lock " + lock_path.string() + ": " + errno_text());
    }
    if (!waited && on_waiting) {
      on_waiting();
    }
    waited = true;
    pollfd entry{watch_fd, POLLIN, 0};
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
    const int ready = left_ms > 0 ? ::poll(&entry, 1, static_cast<int>(left_ms)) : 0;
    if (ready == 0) {
      ::close(lock_fd);
      return DeliveryGuard(Role::timed_out, -1, result_path, std::nullopt);
    }
    char events[4096];
    while (::read(watch_fd, events, sizeof events) > 0) {
      // Only the wake-up matters: the loop looks at the lock and the result again.
    }
  }
}

Expected<std::optional<nlohmann::json>> DeliveryGuard::wait_for_result(const std::filesystem::path& state_dir,
                                                                       const std::string& termination_id,
                                                                       const Deadline& deadline) {
  std::error_code error;
  // The agent's container may not have created it yet: the two hooks start side by side.
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    return unexpected("cannot create the state directory " + state_dir.string() + ": " + error.message());
  }
  const auto result_path = state_dir / (file_safe(termination_id) + ".result.json");
  const int watch_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (watch_fd < 0) {
    return unexpected("inotify_init1 failed: " + errno_text());
  }
  struct WatchCloser {
    int fd;
    ~WatchCloser() { ::close(fd); }
  } watch_closer{watch_fd};
  // The result is renamed into place: IN_MOVED_TO. Watching before the first look misses none.
  if (::inotify_add_watch(watch_fd, state_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    return unexpected("cannot watch " + state_dir.string() + ": " + errno_text());
  }
  while (true) {
    if (auto result = read_result(result_path)) {
      return std::optional<nlohmann::json>(std::move(result));
    }
    pollfd entry{watch_fd, POLLIN, 0};
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
    if (left_ms <= 0 || ::poll(&entry, 1, static_cast<int>(left_ms)) == 0) {
      return std::optional<nlohmann::json>{};
    }
    char events[4096];
    while (::read(watch_fd, events, sizeof events) > 0) {
    }
  }
}

Expected<Done> DeliveryGuard::record(const nlohmann::json& result) {
  if (m_role != Role::first) {
    return unexpected(std::string("only the first delivery records a result"));
  }
  if (auto written = write_file_atomically(m_result_path.string(), result.dump() + "\n"); !written) {
    return written;
  }
  ::close(std::exchange(m_lock_fd, -1));
  return Done{};
}

} // namespace lameduck

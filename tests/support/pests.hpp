#pragma once

// Clients that misbehave on purpose, as an attacker on the pod network would, all driven by
// one thread of their own: slow clients that send a request head one byte at a time and never
// finish it, and clients that send bytes that are not HTTP. Each reopens its connection when
// the server drops it, so the pressure holds for as long as they run.

#include "lameduck/core/deadline.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace lameduck::test {

struct PestOptions {
  int slow_clients = 500;
  int garbage_clients = 100;
  // A slow client's next byte, and a garbage client's next connection once it was dropped:
  // well inside any per-read timeout.
  Duration interval = std::chrono::milliseconds{500};
};

class Pests {
public:
  // Starts connecting at once to 127.0.0.1:port.
  Pests(int port, PestOptions options);
  ~Pests();
  Pests(const Pests&) = delete;
  Pests& operator=(const Pests&) = delete;

  // Connections opened so far, and how many of them the server has dropped.
  std::uint64_t connections_opened() const { return m_opened.load(); }
  std::uint64_t connections_dropped() const { return m_dropped.load(); }
  // Slow connections open right now.
  std::uint64_t slow_connections_open() const { return m_slow_open.load(); }
  // Waits until `count` connections have been opened; false at the deadline.
  bool wait_until_opened(std::uint64_t count, const Deadline& deadline);

private:
  void run(int port, PestOptions options);

  int m_stop_fd = -1;
  std::atomic<std::uint64_t> m_opened{0};
  std::atomic<std::uint64_t> m_dropped{0};
  std::atomic<std::uint64_t> m_slow_open{0};
  std::mutex m_mutex;
  std::condition_variable m_opened_more;
  std::thread m_thread;
};

} // namespace lameduck::test

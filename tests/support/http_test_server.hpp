#pragma once

// A real cpp-httplib server on a free loopback port, for tests that need a peer to talk to:
// an agent, an upstream, a hung or slow server. Stopped when the test ends.

#include "lameduck/core/duration.hpp"

#include <httplib.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace lameduck::test {

class HttpTestServer {
public:
  explicit HttpTestServer(const std::function<void(httplib::Server&)>& routes) {
    routes(m_server);
    // As Go's net/http, nginx and Node.js do by default: small answers are not held back
    // waiting for the ACK of a previous write.
    m_server.set_tcp_nodelay(true);
    m_port = m_server.bind_to_any_port("127.0.0.1");
    // bind_to_any_port also listens: connections queue until the accept loop runs.
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
  }
  ~HttpTestServer() {
    {
      const std::lock_guard lock(m_mutex);
      m_released = true;
    }
    m_release.notify_all();
    m_server.stop();
    m_thread.join();
  }
  int port() const { return m_port; }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(m_port) + path; }
  // What a hung or slow peer does: holds its handler for `duration`, or until the test ends.
  void stall(lameduck::Duration duration) {
    std::unique_lock lock(m_mutex);
    m_release.wait_for(lock, duration, [this] { return m_released; });
  }

private:
  httplib::Server m_server;
  int m_port = 0;
  std::mutex m_mutex;
  std::condition_variable m_release;
  bool m_released = false;
  std::thread m_thread;
};

} // namespace lameduck::test

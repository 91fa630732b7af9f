#include "lameduck/drain/quiet_wait.hpp"

#include "support/quiet_logger.hpp"
#include "support/sockets.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using lameduck::Clock;
using lameduck::Deadline;
using lameduck::QuietOptions;
using lameduck::QuietVerdict;
using lameduck::wait_until_quiet;
using namespace std::chrono_literals;

namespace {

// Runs `step` every `interval` on a thread of its own until destroyed, which ends it at once:
// the traffic a test measures, paced by the clock as real clients are; nothing waits on it.
class Paced {
public:
  Paced(lameduck::Duration interval, std::function<void()> step)
      : m_thread([this, interval, step = std::move(step)] {
          std::unique_lock lock(m_mutex);
          while (!m_stop) {
            lock.unlock();
            step();
            lock.lock();
            m_changed.wait_for(lock, interval, [this] { return m_stop; });
          }
        }) {}
  ~Paced() {
    {
      const std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_changed.notify_all();
    m_thread.join();
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_stop = false;
  std::thread m_thread;
};

// Sends a byte every `interval` on its connection until destroyed: a client that keeps using
// its kept-alive connection.
class SteadySender {
public:
  SteadySender(const lameduck::test::TcpConnection& connection, lameduck::Duration interval)
      : m_paced(interval, [&connection] { connection.send("x"); }) {}

private:
  Paced m_paced;
};

} // namespace

TEST_CASE("wait_until_quiet on real sockets") {
  const lameduck::test::LoopbackListener listener;
  const QuietOptions options{.quiet = 500ms, .ports = {listener.port()}, .local_addresses = {"127.0.0.1"}};
  const auto& logger = lameduck::test::k_quiet;

  SUBCASE("a kept-alive connection that carries a request every 100 ms is not quiet") {
    const lameduck::test::TcpConnection client("127.0.0.1", listener.port());
    const int accepted = listener.accept(Deadline::after(5s));
    const SteadySender sender(client, 100ms);
    const auto result = wait_until_quiet(options, Clock::now(), Deadline::after(1500ms), logger);
    ::close(accepted);
    CHECK(result.verdict == QuietVerdict::busy);
    CHECK(result.source == "sock_diag");
    REQUIRE(result.last_bytes);
    CHECK(result.last_bytes->peer.rfind("127.0.0.1:", 0) == 0);
    CHECK(result.last_bytes->local_port == listener.port());
    CHECK(result.new_connections == 0);
  }
  SUBCASE("one left idle is quiet, --until-quiet after the first reading") {
    const lameduck::test::TcpConnection client("127.0.0.1", listener.port());
    const int accepted = listener.accept(Deadline::after(5s));
    client.send("GET / HTTP/1.1\r\n\r\n"); // before the phase: not counted
    const auto started = Clock::now();
    const auto result = wait_until_quiet(options, started, Deadline::after(5s), logger);
    const auto took = Clock::now() - started;
    ::close(accepted);
    CHECK(result.verdict == QuietVerdict::quiet);
    CHECK(result.open_connections == 1);
    CHECK_FALSE(result.last_bytes);
    CHECK(took >= 500ms);
    CHECK(took < 500ms + 300ms);
  }
  SUBCASE("short connections the server closes are seen, in TIME_WAIT if need be") {
    std::optional<Paced> clients(std::in_place, 100ms, [&] {
      const lameduck::test::TcpConnection client("127.0.0.1", listener.port());
      client.send("x");
      // Read, then closed by the server first, as an HTTP server does after its answer (with
      // the byte unread, close would reset the connection instead).
      const int accepted = listener.accept(Deadline::after(5s));
      char byte = 0;
      CHECK(::recv(accepted, &byte, 1, 0) == 1);
      ::close(accepted);
    });
    const auto result = wait_until_quiet(options, Clock::now(), Deadline::after(1500ms), logger);
    clients.reset();
    CHECK(result.verdict == QuietVerdict::busy);
    CHECK(result.new_connections >= 5);
    REQUIRE(result.last_connection);
  }
  SUBCASE("the floor holds even when all is quiet") {
    const auto started = Clock::now();
    const auto result = wait_until_quiet(options, started + 900ms, Deadline::after(5s), logger);
    CHECK(result.verdict == QuietVerdict::quiet);
    CHECK(Clock::now() - started >= 900ms);
  }
  SUBCASE("the deadline holds even when traffic goes on") {
    const lameduck::test::TcpConnection client("127.0.0.1", listener.port());
    const int accepted = listener.accept(Deadline::after(5s));
    const SteadySender sender(client, 50ms);
    const auto started = Clock::now();
    const auto result = wait_until_quiet(options, started, Deadline::after(700ms), logger);
    ::close(accepted);
    CHECK(result.verdict == QuietVerdict::busy);
    CHECK(Clock::now() - started < 700ms + 100ms);
  }
}

#include "support/pests.hpp"

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <netinet/in.h>
#include <string_view>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace lameduck::test {

namespace {

// A head that never ends: after this prefix, one more header value byte at a time, forever.
constexpr std::string_view k_slow_head = "GET /readyz HTTP/1.1\r\nHost: pod\r\nX-Slow: ";
// A TLS ClientHello's first bytes, then noise: what a port scanner or a confused client sends.
constexpr std::string_view k_garbage = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP \x00\xff\r\n\r\n";

struct Pest {
  bool slow = true;
  int fd = -1;
  std::size_t sent = 0;       // bytes of this connection's head sent so far
  Clock::time_point next_act; // the next byte, or the next connection
};

int connect_nonblocking(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

Pests::Pests(int port, PestOptions options) : m_stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  m_thread = std::thread([this, port, options] { run(port, options); });
}

Pests::~Pests() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(m_stop_fd, &one, sizeof one);
  m_thread.join();
  ::close(m_stop_fd);
}

bool Pests::wait_until_opened(std::uint64_t count, const Deadline& deadline) {
  std::unique_lock lock(m_mutex);
  return m_opened_more.wait_until(lock, deadline.when(), [&] { return m_opened.load() >= count; });
}

void Pests::run(int port, PestOptions options) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event stop_event{};
  stop_event.events = EPOLLIN;
  stop_event.data.u64 = UINT64_MAX;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, m_stop_fd, &stop_event);

  std::vector<Pest> pests(static_cast<std::size_t>(options.slow_clients + options.garbage_clients));
  const auto start = Clock::now();
  for (std::size_t i = 0; i < pests.size(); ++i) {
    pests[i].slow = i < static_cast<std::size_t>(options.slow_clients);
    // Spread over one interval, so that the server sees a steady stream, not waves.
    pests[i].next_act = start + options.interval * static_cast<long>(i) / static_cast<long>(pests.size());
  }

  const auto open = [&](std::size_t i, Clock::time_point now) {
    Pest& pest = pests[i];
    pest.fd = connect_nonblocking(port);
    pest.sent = 0;
    pest.next_act = now;
    if (pest.fd < 0) {
      pest.next_act = now + options.interval; // out of ports or descriptors: try again later
      return;
    }
    {
      const std::lock_guard lock(m_mutex);
      m_opened.fetch_add(1);
    }
    m_opened_more.notify_all();
    if (pest.slow) {
      m_slow_open.fetch_add(1);
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.u64 = i;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pest.fd, &event);
  };
  const auto dropped = [&](std::size_t i, Clock::time_point now) {
    Pest& pest = pests[i];
    ::close(pest.fd);
    pest.fd = -1;
    m_dropped.fetch_add(1);
    if (pest.slow) {
      m_slow_open.fetch_sub(1);
    }
    // A slow client is back at once; a garbage client after an interval.
    pest.next_act = pest.slow ? now : now + options.interval;
  };
  const auto act = [&](std::size_t i, Clock::time_point now) {
    Pest& pest = pests[i];
    if (pest.fd < 0) {
      open(i, now);
    }
    if (pest.fd < 0) {
      return;
    }
    if (pest.slow) {
      const char byte = pest.sent < k_slow_head.size() ? k_slow_head[pest.sent] : 'a';
      if (::send(pest.fd, &byte, 1, MSG_NOSIGNAL) == 1) {
        ++pest.sent;
      }
      pest.next_act = now + options.interval;
    } else {
      if (pest.sent == 0) {
        if (::send(pest.fd, k_garbage.data(), k_garbage.size(), MSG_NOSIGNAL) > 0) {
          pest.sent = k_garbage.size();
        }
      }
      pest.next_act = Clock::time_point::max(); // waits for the server to drop it
    }
  };

  std::array<epoll_event, 256> events;
  std::array<char, 4096> sink;
  while (true) {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    for (std::size_t i = 0; i < pests.size(); ++i) {
      if (pests[i].next_act <= now) {
        act(i, now);
      }
      next = std::min(next, pests[i].next_act);
    }
    const auto wait = next == Clock::time_point::max()
                          ? -1
                          : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(
                                                 std::max(next - Clock::now(), Clock::duration::zero()))
                                                 .count());
    const int ready = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), wait);
    now = Clock::now();
    for (int e = 0; e < ready; ++e) {
      if (events[e].data.u64 == UINT64_MAX) {
        for (auto& pest : pests) {
          if (pest.fd >= 0) {
            ::close(pest.fd);
          }
        }
        ::close(epoll_fd);
        return;
      }
      const std::size_t i = events[e].data.u64;
      if (pests[i].fd < 0) {
        continue;
      }
      // Whatever the server says (a 400, a 408) is read; the end of the stream is a drop.
      const auto n = ::recv(pests[i].fd, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
          (events[e].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        dropped(i, now);
      }
    }
  }
}

} // namespace lameduck::test

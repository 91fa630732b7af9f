#include "support/sockets.hpp"

#include "lameduck/core/fd_wait.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace lameduck::test {

namespace {

// A TCP socket bound to a free loopback port; returns the descriptor and sets `port`.
int bind_free_loopback_port(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error(std::string("cannot bind a loopback port: ") + std::strerror(errno));
  }
  port = ntohs(address.sin_port);
  return fd;
}

} // namespace

int closed_port() {
  int port = 0;
  ::close(bind_free_loopback_port(port));
  return port;
}

LoopbackListener::LoopbackListener() : m_fd(bind_free_loopback_port(m_port)) {
  if (::listen(m_fd, 16) != 0) {
    throw std::runtime_error(std::string("cannot listen: ") + std::strerror(errno));
  }
}

LoopbackListener::~LoopbackListener() {
  ::close(m_fd);
}

int LoopbackListener::accept(const Deadline& deadline) const {
  const auto readable = wait_for_fd(m_fd, POLLIN, deadline);
  if (!readable || !*readable) {
    throw std::runtime_error("no connection to port " + std::to_string(m_port) + " before the deadline");
  }
  return ::accept(m_fd, nullptr, nullptr);
}

TcpConnection::TcpConnection(const std::string& host, int port, const std::string& source) {
  const bool v6 = host.find(':') != std::string::npos;
  m_fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage storage{};
  socklen_t length = 0;
  const auto fill = [&](const std::string& text, int port_number) {
    storage = {};
    if (v6) {
      auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
      address->sin6_family = AF_INET6;
      address->sin6_port = htons(static_cast<uint16_t>(port_number));
      ::inet_pton(AF_INET6, text.c_str(), &address->sin6_addr);
      length = sizeof *address;
    } else {
      auto* address = reinterpret_cast<sockaddr_in*>(&storage);
      address->sin_family = AF_INET;
      address->sin_port = htons(static_cast<uint16_t>(port_number));
      ::inet_pton(AF_INET, text.c_str(), &address->sin_addr);
      length = sizeof *address;
    }
  };
  if (!source.empty()) {
    fill(source, 0);
    if (::bind(m_fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
      ::close(m_fd);
      throw std::runtime_error("cannot bind to " + source + ": " + std::strerror(errno));
    }
  }
  fill(host, port);
  if (::connect(m_fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    ::close(m_fd);
    throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
  }
}

TcpConnection::~TcpConnection() {
  ::close(m_fd);
}

void TcpConnection::send(std::string_view bytes) const {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) {
      return; // the peer hung up: what it answered so far is what receive_all sees
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

std::string TcpConnection::receive_all(const Deadline& deadline) const {
  std::string received;
  char buffer[4096];
  for (;;) {
    const auto readable = wait_for_fd(m_fd, POLLIN, deadline);
    if (!readable || !*readable) {
      return received;
    }
    const ssize_t got = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      return received;
    }
    received.append(buffer, static_cast<std::size_t>(got));
  }
}

std::string raw_http_exchange(const std::string& host, int port, std::string_view request, const Deadline& deadline,
                              const std::string& source) {
  const TcpConnection connection(host, port, source);
  connection.send(request);
  return connection.receive_all(deadline);
}

int raw_http_status(std::string_view answer) {
  if (answer.substr(0, 9) != "HTTP/1.1 " || answer.size() < 12) {
    return 0;
  }
  return std::stoi(std::string(answer.substr(9, 3)));
}

} // namespace lameduck::test

#include "lameduck/state/redis_connection.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/fd_wait.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/core/url.hpp"

#include <hiredis/hiredis.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lameduck {
namespace {

// Waits until the socket can do `events`, within the deadline.
Expected<Done> wait_for_socket(int fd, short events, const Deadline& deadline, const char* what) {
  const auto ready = wait_for_fd(fd, events, deadline);
  if (!ready) {
    return unexpected("redis: " + ready.error().message);
  }
  if (!*ready) {
    return unexpected(std::string("redis: no answer in time (") + what + ")");
  }
  return Done{};
}

// A non-blocking connect to one address, finished within the deadline.
Expected<int> connect_to(const addrinfo& address, const Deadline& deadline) {
  const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) {
    return unexpected(std::string("socket: ") + std::strerror(errno));
  }
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0 && errno != EINPROGRESS) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return unexpected(error);
  }
  if (auto writable = wait_for_socket(fd, POLLOUT, deadline, "connect"); !writable) {
    ::close(fd);
    return unexpected(writable.error());
  }
  int socket_error = 0;
  socklen_t length = sizeof socket_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0 || socket_error != 0) {
    ::close(fd);
    return unexpected(std::string(std::strerror(socket_error != 0 ? socket_error : errno)));
  }
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); // a command is one write: send it now
  return fd;
}

std::string format_command(const std::vector<std::string>& arguments) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (const auto& argument : arguments) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  char* formatted = nullptr;
  const int length =
      redisFormatCommandArgv(&formatted, static_cast<int>(arguments.size()), pointers.data(), lengths.data());
  if (length < 0) {
    throw std::bad_alloc();
  }
  std::string command(formatted, static_cast<std::size_t>(length));
  redisFreeCommand(formatted);
  return command;
}

} // namespace

RedisConnection::RedisConnection(RedisUrl url) : m_url(std::move(url)) {}

RedisConnection::~RedisConnection() {
  drop();
}

void RedisConnection::drop() {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  m_reader.reset();
}

Expected<RedisReply> RedisConnection::broken(std::string message) {
  // Part of a command may be sent, or part of a reply unread: the connection is out of step.
  drop();
  return unexpected(std::move(message));
}

Expected<Done> RedisConnection::connect(const Deadline& deadline) {
  std::string password;
  if (!m_url.password_file.empty()) {
    // Read at each connect: a rotated Secret is picked up by the next connection.
    const auto read = read_small_file(m_url.password_file, 4096);
    if (!read || read->missing) {
      return unexpected("redis: cannot read the password file " + m_url.password_file +
                        (read ? std::string(": it does not exist") : ": " + read.error().message));
    }
    password = trim_blanks(read->content);
  }
  const std::string where = join_host_port(m_url.host, m_url.port);
  // A name is resolved before the connect starts, bounded by the resolver's own timeout (the
  // pod's resolv.conf); an address skips the lookup.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = ::getaddrinfo(m_url.host.c_str(), std::to_string(m_url.port).c_str(), &hints, &found);
      error != 0) {
    return unexpected("redis: cannot resolve " + m_url.host + ": " + ::gai_strerror(error));
  }
  std::string last_error = "no address";
  for (const addrinfo* address = found; address != nullptr && m_fd < 0; address = address->ai_next) {
    auto connected = connect_to(*address, deadline);
    if (connected) {
      m_fd = *connected;
    } else {
      last_error = connected.error().message;
    }
  }
  ::freeaddrinfo(found);
  if (m_fd < 0) {
    return unexpected("redis: cannot connect to " + where + ": " + last_error);
  }
  m_reader = std::make_unique<RedisReplyReader>();
  if (!password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!m_url.user.empty()) {
      auth.push_back(m_url.user);
    }
    auth.push_back(password);
    if (auto authed = exchange(auth, deadline); !authed) {
      drop();
      return unexpected(authed.error());
    }
  }
  if (m_url.database != 0) {
    if (auto selected = exchange({"SELECT", std::to_string(m_url.database)}, deadline); !selected) {
      drop();
      return unexpected(selected.error());
    }
  }
  return Done{};
}

Expected<RedisReply> RedisConnection::command(const std::vector<std::string>& arguments, const Deadline& deadline) {
  if (m_fd < 0) {
    if (auto connected = connect(deadline); !connected) {
      return unexpected(connected.error());
    }
  }
  return exchange(arguments, deadline);
}

Expected<RedisReply> RedisConnection::exchange(const std::vector<std::string>& arguments, const Deadline& deadline) {
  const std::string command = format_command(arguments);
  for (std::string_view left = command; !left.empty();) {
    const ssize_t sent = ::send(m_fd, left.data(), left.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      left.remove_prefix(static_cast<std::size_t>(sent));
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (auto writable = wait_for_socket(m_fd, POLLOUT, deadline, "sending"); !writable) {
        return broken(writable.error().message);
      }
    } else if (sent < 0 && errno != EINTR) {
      return broken(std::string("redis: cannot send: ") + std::strerror(errno));
    }
  }
  for (;;) {
    auto reply = m_reader->next();
    if (!reply) {
      return broken("redis: " + reply.error().message);
    }
    if (*reply) {
      if ((*reply)->is_object()) { // an error reply: the connection is still in step
        return unexpected("redis: " + (*reply)->value("error", std::string()));
      }
      return std::move(**reply);
    }
    if (auto readable = wait_for_socket(m_fd, POLLIN, deadline, "reading the reply"); !readable) {
      return broken(readable.error().message);
    }
    char buffer[64 * 1024];
    const ssize_t received = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (received == 0) {
      return broken(std::string("redis: the connection was closed"));
    }
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        continue;
      }
      return broken(std::string("redis: the connection broke: ") + std::strerror(errno));
    }
    if (auto fed = m_reader->feed({buffer, static_cast<std::size_t>(received)}); !fed) {
      return broken("redis: " + fed.error().message);
    }
  }
}

} // namespace lameduck

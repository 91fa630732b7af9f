#include "lameduck/state/redis_connection.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/core/url.hpp"

#include <hiredis/hiredis.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace lameduck {
namespace {

// Waits until the socket can do `events`, within the deadline.
Expected<Done> wait_for_socket(int fd, short events, const Deadline& deadline, const char* what) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.remaining()).count();
    if (left <= 0) {
      return unexpected(std::string("redis: no answer in time (") + what + ")");
    }
    pollfd polled{.fd = fd, .events = events, .revents = 0};
    const int ready = ::poll(&polled, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (ready > 0) {
      return Done{};
    }
    if (ready < 0 && errno != EINTR) {
      return unexpected(std::string("redis: poll: ") + std::strerror(errno));
    }
  }
}

nlohmann::json to_json(const redisReply& reply) {
  switch (reply.type) {
  case REDIS_REPLY_STRING:
  case REDIS_REPLY_STATUS:
    return std::string(reply.str, reply.len);
  case REDIS_REPLY_INTEGER:
    return reply.integer;
  case REDIS_REPLY_ARRAY: {
    nlohmann::json items = nlohmann::json::array();
    for (std::size_t i = 0; i < reply.elements; ++i) {
      items.push_back(to_json(*reply.element[i]));
    }
    return items;
  }
  default:
    return nullptr;
  }
}

std::string context_error(const redisContext& context) {
  return context.errstr[0] != '\0' ? std::string(context.errstr) : "the connection failed";
}

} // namespace

RedisConnection::RedisConnection(RedisUrl url) : m_url(std::move(url)) {}

RedisConnection::~RedisConnection() {
  drop();
}

void RedisConnection::drop() {
  if (m_context != nullptr) {
    redisFree(m_context);
    m_context = nullptr;
  }
}

Expected<Done> RedisConnection::connect(const Deadline& deadline) {
  if (!m_url.password_file.empty()) {
    // Read at each connect: a rotated Secret is picked up by the next connection.
    const auto read = read_small_file(m_url.password_file, 4096);
    if (!read || read->missing) {
      return unexpected("redis: cannot read the password file " + m_url.password_file +
                        (read ? std::string(": it does not exist") : ": " + read.error().message));
    }
    m_password = trim_blanks(read->content);
  }
  // The name is resolved before the connect starts; a Service name resolves through the
  // pod's resolver, whose own timeout bounds it (an address skips the lookup).
  m_context = redisConnectNonBlock(m_url.host.c_str(), m_url.port);
  if (m_context == nullptr) {
    return unexpected(std::string("redis: out of memory"));
  }
  if (m_context->err != 0) {
    const std::string error = "redis: cannot connect to " + join_host_port(m_url.host, m_url.port) + ": " +
                              context_error(*m_context);
    drop();
    return unexpected(error);
  }
  if (auto writable = wait_for_socket(m_context->fd, POLLOUT, deadline, "connect"); !writable) {
    drop();
    return writable;
  }
  int socket_error = 0;
  socklen_t length = sizeof socket_error;
  if (::getsockopt(m_context->fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0 || socket_error != 0) {
    drop();
    return unexpected("redis: cannot connect to " + join_host_port(m_url.host, m_url.port) + ": " +
                      std::strerror(socket_error != 0 ? socket_error : errno));
  }
  if (!m_password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!m_url.user.empty()) {
      auth.push_back(m_url.user);
    }
    auth.push_back(m_password);
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

Expected<nlohmann::json> RedisConnection::command(const std::vector<std::string>& arguments, const Deadline& deadline) {
  if (m_context == nullptr) {
    if (auto connected = connect(deadline); !connected) {
      return unexpected(connected.error());
    }
  }
  return exchange(arguments, deadline);
}

Expected<nlohmann::json> RedisConnection::broken(std::string message) {
  // Part of a command may be sent, or part of a reply unread: the connection is out of step.
  drop();
  return unexpected(std::move(message));
}

Expected<nlohmann::json> RedisConnection::exchange(const std::vector<std::string>& arguments, const Deadline& deadline) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (const auto& argument : arguments) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  if (redisAppendCommandArgv(m_context, static_cast<int>(arguments.size()), pointers.data(), lengths.data()) !=
      REDIS_OK) {
    return broken("redis: " + context_error(*m_context));
  }
  for (int done = 0; done == 0;) {
    if (redisBufferWrite(m_context, &done) != REDIS_OK) {
      return broken("redis: cannot send: " + context_error(*m_context));
    }
    if (done == 0) {
      if (auto writable = wait_for_socket(m_context->fd, POLLOUT, deadline, "sending"); !writable) {
        return broken(writable.error().message);
      }
    }
  }
  void* raw = nullptr;
  for (;;) {
    if (redisGetReplyFromReader(m_context, &raw) != REDIS_OK) {
      return broken("redis: a reply that is not RESP: " + context_error(*m_context));
    }
    if (raw != nullptr) {
      break;
    }
    if (m_context->reader->len > k_max_redis_reply) {
      return broken("redis: a reply larger than " + std::to_string(k_max_redis_reply >> 20) + " MiB");
    }
    if (auto readable = wait_for_socket(m_context->fd, POLLIN, deadline, "reading the reply"); !readable) {
      return broken(readable.error().message);
    }
    if (redisBufferRead(m_context) != REDIS_OK) {
      return broken("redis: the connection broke: " + context_error(*m_context));
    }
  }
  const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw), freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    return unexpected("redis: " + std::string(reply->str, reply->len));
  }
  return to_json(*reply);
}

} // namespace lameduck

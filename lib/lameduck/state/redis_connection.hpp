#pragma once

// One connection to Redis, every step bounded by the caller's deadline: a non-blocking socket
// whose every wait is a poll() on what is left of the deadline, so a peer that hangs or
// trickles cannot stretch a call past it. hiredis formats the commands; RedisReplyReader
// parses the replies within its bounds. Writes use MSG_NOSIGNAL: a peer that hangs up costs an
// error, never a SIGPIPE, in whatever process embeds this. After a transport error the
// connection is dropped (an error reply leaves it in step); the next command connects again,
// AUTH and SELECT included.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/state/redis_reply_reader.hpp"
#include "lameduck/state/redis_url.hpp"

#include <memory>
#include <string>
#include <vector>

namespace lameduck {

class RedisConnection {
public:
  explicit RedisConnection(RedisUrl url);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and returns its reply (redis_reply_reader.hpp). A Redis error reply is
  // an error ("redis: ERR ..."), and so is every failure to get a reply in time.
  Expected<RedisReply> command(const std::vector<std::string>& arguments, const Deadline& deadline);

  const RedisUrl& url() const { return m_url; }

private:
  Expected<Done> connect(const Deadline& deadline);
  Expected<RedisReply> exchange(const std::vector<std::string>& arguments, const Deadline& deadline);
  Expected<RedisReply> broken(std::string message);
  void drop();

  RedisUrl m_url;
  int m_fd = -1;
  std::unique_ptr<RedisReplyReader> m_reader;
};

} // namespace lameduck

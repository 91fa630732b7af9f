#pragma once

// One connection to Redis, every step bounded by the caller's deadline: hiredis builds the
// commands and parses the replies, but the socket is non-blocking and each wait for it is a
// poll() on what is left of the deadline, so a peer that hangs or trickles cannot stretch a
// call past it. A reply larger than k_max_redis_reply is refused, so a lying peer cannot make
// the agent allocate without end. After a transport error the connection is dropped (an error
// reply leaves it in step); the next command connects again, AUTH and SELECT included.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/state/redis_url.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace lameduck {

inline constexpr std::size_t k_max_redis_reply = std::size_t{64} << 20;

class RedisConnection {
public:
  explicit RedisConnection(RedisUrl url);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and returns its reply as JSON: a string for bulk and status replies, a
  // number for integers, an array, or null. A Redis error reply is an error ("redis: ...").
  Expected<nlohmann::json> command(const std::vector<std::string>& arguments, const Deadline& deadline);

  const RedisUrl& url() const { return m_url; }

private:
  Expected<Done> connect(const Deadline& deadline);
  Expected<nlohmann::json> exchange(const std::vector<std::string>& arguments, const Deadline& deadline);
  Expected<nlohmann::json> broken(std::string message);
  void drop();

  RedisUrl m_url;
  std::string m_password; // read from the URL's password file when connecting
  redisContext* m_context = nullptr;
};

} // namespace lameduck

#pragma once

// RESP replies from the bytes a Redis (or whatever answers in its place) sends, as they arrive:
// hiredis' reader does the parsing, into JSON built here, within bounds a hostile peer cannot
// stretch: at most k_max_redis_reply bytes buffered for one reply and k_max_redis_elements
// array elements in it (an array header of 2,000,000,000 is 14 bytes), nesting as deep as
// hiredis allows (7).

#include "lameduck/core/expected.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

struct redisReader;

namespace lameduck {

inline constexpr std::size_t k_max_redis_reply = std::size_t{64} << 20;
inline constexpr std::size_t k_max_redis_elements = std::size_t{1} << 20;

// A reply: a string (bulk or status), a number, null, an array of replies, or an error reply,
// which is {"error": "..."}.
using RedisReply = nlohmann::json;

class RedisReplyReader {
public:
  RedisReplyReader();
  ~RedisReplyReader();
  RedisReplyReader(const RedisReplyReader&) = delete;
  RedisReplyReader& operator=(const RedisReplyReader&) = delete;

  // Adds bytes; an error once more than k_max_redis_reply wait for a reply to end.
  Expected<Done> feed(std::string_view bytes);
  // The next whole reply, nothing while it is incomplete, or an error for bytes that are not
  // RESP or a reply past the bounds. After an error the reader is out of step: start a new one.
  Expected<std::optional<RedisReply>> next();

  // What the peer sent that no reply has taken yet.
  std::size_t buffered() const;

  // Spent by the arrays of the reply being read; reset for each reply. Set when an array was
  // refused for want of it.
  std::size_t elements_left = k_max_redis_elements;
  bool refused_array = false;

private:
  redisReader* m_reader;
};

} // namespace lameduck

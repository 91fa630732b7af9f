// What a peer in Redis' place sends: never a crash, never more memory than the reader's
// bounds; the same bytes give the same replies however the network splits them.

#include "fuzz_target.hpp"
#include "lameduck/state/redis_reply_reader.hpp"

#include <string>
#include <vector>

namespace {

// Every reply the bytes hold, then "!" and the error if they end in one.
std::vector<std::string> read_all(std::string_view bytes, std::size_t chunk) {
  lameduck::RedisReplyReader reader;
  std::vector<std::string> replies;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    if (auto fed = reader.feed(bytes.substr(at, chunk)); !fed) {
      replies.push_back("!" + fed.error().message);
      return replies;
    }
    for (;;) {
      auto reply = reader.next();
      if (!reply) {
        replies.push_back("!" + reply.error().message);
        return replies;
      }
      if (!*reply) {
        break;
      }
      replies.push_back((*reply)->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  return replies;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = lameduck::fuzz::as_text(data, size);
  const auto whole = read_all(bytes, bytes.size() + 1);
  const auto split = read_all(bytes, 7);
  lameduck::fuzz::require(whole == split);
  return 0;
}

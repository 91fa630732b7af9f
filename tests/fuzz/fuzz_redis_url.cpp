// --state-url as an operator may mistype it: never a crash; what parses prints as a URL that
// parses back to the same place.

#include "fuzz_target.hpp"
#include "lameduck/state/redis_url.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto url = lameduck::parse_redis_url(std::string(lameduck::fuzz::as_text(data, size)));
  if (url) {
    const auto again = lameduck::parse_redis_url(url->text());
    lameduck::fuzz::require(again.has_value());
    lameduck::fuzz::require(again->host == url->host && again->port == url->port && again->database == url->database &&
                            again->user == url->user);
  }
  return 0;
}

// What users type into flags and environment variables: durations, URLs, listen addresses,
// drain steps.
// Never a crash; a duration that parses prints back to the same duration.

#include "fuzz_target.hpp"
#include "lameduck/core/duration.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/drain/drain_step.hpp"
#include "lameduck/readiness/readiness_server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = lameduck::fuzz::as_text(data, size);
  if (const auto duration = lameduck::parse_duration(text)) {
    const auto again = lameduck::parse_duration(lameduck::format_duration(*duration));
    lameduck::fuzz::require(again && *again == *duration);
  }
  if (const auto url = lameduck::parse_url(text)) {
    lameduck::fuzz::require(url->port > 0 && url->port <= 65535 && !url->host.empty());
    lameduck::fuzz::require(!url->target.empty() && url->target.front() == '/');
  }
  if (const auto address = lameduck::parse_listen_address(text)) {
    lameduck::fuzz::require(address->port >= 0 && address->port <= 65535);
  }
  if (const auto step = lameduck::parse_drain_step(text)) {
    // A step that parses names what it acts on, and a timeout that parses is positive.
    lameduck::fuzz::require(!lameduck::drain_step_target(*step).empty());
    lameduck::fuzz::require(!step->timeout || step->timeout->count() > 0);
  }
  return 0;
}

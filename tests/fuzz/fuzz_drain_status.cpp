// The agent's drain status answer: any bytes, never a crash; what parses prints and parses
// back to the same status.

#include "fuzz_target.hpp"
#include "lameduck/drain/drain_status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto status = lameduck::parse_drain_status(lameduck::fuzz::as_text(data, size));
  if (status) {
    const auto again = lameduck::parse_drain_status(lameduck::drain_status_json(*status));
    lameduck::fuzz::require(again && *again == *status);
  }
  return 0;
}

// The readiness state file, which a crash or an operator may have mangled: never a crash;
// what parses prints and parses back to the same state.

#include "fuzz_target.hpp"
#include "lameduck/readiness/readiness_state.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto state = lameduck::parse_readiness_state(std::string(lameduck::fuzz::as_text(data, size)));
  if (state) {
    const auto again = lameduck::parse_readiness_state(lameduck::readiness_state_json(*state));
    lameduck::fuzz::require(again && *again == *state);
  }
  return 0;
}

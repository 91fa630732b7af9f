#pragma once

// Every fuzz target defines LLVMFuzzerTestOneInput. Built with clang and -fsanitize=fuzzer
// (`./dev fuzz`) it is driven by libFuzzer; otherwise it is linked with replay_main.cpp, which
// runs the checked-in corpus and a fixed set of random mutations of it under the test suite.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace lameduck::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An invariant broken: abort, so that libFuzzer and the replay both report the input.
inline void require(bool condition, int line = __builtin_LINE()) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant broken at line %d\n", line);
    std::abort();
  }
}

} // namespace lameduck::fuzz

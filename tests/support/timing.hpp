#pragma once

// How late a thread may be scheduled on a loaded two-core machine running the suite in
// parallel under the sanitizers. Tests that check "given up by the deadline" allow this much
// past it; the tight figures belong to the benchmarks, which run alone.

#include "lameduck/core/duration.hpp"

#include <chrono>

namespace lameduck::test {

inline constexpr Duration k_scheduling_slack = std::chrono::milliseconds{250};

} // namespace lameduck::test

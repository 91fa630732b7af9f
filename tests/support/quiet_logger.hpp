#pragma once

// A logger that drops everything, for tests and benchmarks that call the library directly and
// judge it by what it returns, not by what it logs.

#include "lameduck/core/log.hpp"

namespace lameduck::test {

inline const Logger k_quiet("test", LogFormat::json, LogLevel::error, [](std::string_view) {});

} // namespace lameduck::test

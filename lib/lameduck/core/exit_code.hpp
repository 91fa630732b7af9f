#pragma once

// The exit codes of every tool, as the contract defines them.

namespace lameduck::exit_code {

// The goal was reached.
inline constexpr int k_ok = 0;
// Gave up in time: a phase timed out or a dependency failed, and the tool still exited
// before its deadline.
inline constexpr int k_gave_up = 1;
// Usage or configuration error; stderr names the flag or value and what is wrong with it.
inline constexpr int k_usage = 2;

} // namespace lameduck::exit_code

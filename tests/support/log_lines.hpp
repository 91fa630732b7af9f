#pragma once

// A logger that keeps every line, at every level, so that a test can wait for the moment the
// code under test reached a point (a line logged) instead of sleeping and hoping it did.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck::test {

class LogLines {
public:
  LogLines()
      : m_logger("test", LogFormat::json, LogLevel::debug, [this](std::string_view line) {
          const std::lock_guard lock(m_mutex);
          m_lines.emplace_back(line);
          m_changed.notify_all();
        }) {}
  LogLines(const LogLines&) = delete;
  LogLines& operator=(const LogLines&) = delete;

  const Logger& logger() const { return m_logger; }

  // Blocks until a line holding `needle` has been logged; false at the deadline.
  bool wait_for(std::string_view needle, const Deadline& deadline) const {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_until(lock, deadline.when(), [&] {
      for (const auto& line : m_lines) {
        if (line.find(needle) != std::string::npos) {
          return true;
        }
      }
      return false;
    });
  }

private:
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  std::vector<std::string> m_lines;
  Logger m_logger; // last: its sink uses the members above
};

} // namespace lameduck::test

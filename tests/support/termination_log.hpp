#pragma once

// prestop's summary as the kubelet would show it: the first line of the termination log.

#include "lameduck/core/durable_file.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace lameduck::test {

inline nlohmann::json read_termination_summary(const std::string& termination_log) {
  const auto text = read_small_file(termination_log).value().content;
  return nlohmann::json::parse(text.substr(0, text.find('\n')));
}

} // namespace lameduck::test

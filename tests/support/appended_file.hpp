#pragma once

// Waiting on a log file another process appends to (the kubelet's, the API server's audit
// log): woken by inotify on each append, never by polling on a timer.

#include "lameduck/core/deadline.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace lameduck::test {

// Until a whole line of the file (read from its start) satisfies `matches`: that line.
std::optional<std::string> wait_for_appended_line(const std::filesystem::path& path,
                                                  const std::function<bool(const std::string&)>& matches,
                                                  const Deadline& deadline);

} // namespace lameduck::test

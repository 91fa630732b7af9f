#pragma once

// Reading the process environment through a seam, so that tests can hand a tool any
// environment without touching the real one.

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace lameduck {

using Environment = std::function<std::optional<std::string>(const std::string& name)>;

// The real environment; an empty value counts as unset, as Kubernetes env entries often are.
Environment process_environment();

// A fixed environment, for tests.
Environment fixed_environment(std::map<std::string, std::string> variables);

} // namespace lameduck

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

// Kubernetes' $(VAR) references, expanded as the kubelet does for a container's command: a
// set variable is replaced by its value, an unset one is left as written, and $$ is one $.
// The kubelet does not do this for lifecycle hooks, so prestop does it for the flags that name
// this pod to others (--etcd-key ".../$(POD_NAME)").
std::string expand_references(const std::string& text, const Environment& environment);

// A fixed environment, for tests.
Environment fixed_environment(std::map<std::string, std::string> variables);

} // namespace lameduck

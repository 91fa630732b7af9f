#pragma once

// The checks, by what they look at: each container of a workload, the workload as a whole,
// and each Service. docs/lint/<rule>.md describes every rule and its sources.

#include "lameduck/lint/hook_command.hpp"
#include "lameduck/lint/lint_scope.hpp"

namespace lameduck::lint {

void check_containers(const Workload& workload, const LintScope& scope, FindingSink& sink);
void check_workload(const Workload& workload, const LintScope& scope, FindingSink& sink);
void check_service(const ManifestObject& service, const LintScope& scope, FindingSink& sink);

// The preStop exec command of a container when it runs lameduck's prestop.
std::optional<PrestopFlags> prestop_of(const nlohmann::json& container);

} // namespace lameduck::lint

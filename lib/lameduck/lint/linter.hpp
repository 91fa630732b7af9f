#pragma once

// One lint run over the objects read: every rule on every object, findings in file and line
// order, with what the annotations silence marked rather than dropped (SARIF reports them as
// suppressed).

#include "lameduck/lint/finding.hpp"
#include "lameduck/lint/manifest.hpp"

#include <vector>

namespace lameduck::lint {

struct LintResult {
  std::vector<Finding> findings;
  std::vector<InputError> errors;
  std::size_t objects = 0;
};

LintResult lint_manifests(const Manifests& manifests);

} // namespace lameduck::lint

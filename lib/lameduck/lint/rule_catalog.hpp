#pragma once

// Every rule the linter knows: its id, severity, what it checks in a line, why it matters and
// the fix. docs/lint/<id>.md has the whole story and the Kubernetes source it rests on.

#include "lameduck/lint/finding.hpp"

#include <span>
#include <string>

namespace lameduck::lint {

struct RuleInfo {
  const char* id;
  Severity severity;  // the usual one: a finding may say otherwise (publish-not-ready-addresses)
  const char* summary;
  const char* why;
  const char* fix;
};

std::span<const RuleInfo> rule_catalog();
const RuleInfo* find_rule(const std::string& id);

} // namespace lameduck::lint

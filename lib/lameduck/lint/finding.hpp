#pragma once

// What a lint rule reports: the rule, how bad, where (file, line, the object, the field path)
// and what it found; and, when the object's lint-ignore annotation silences it, why.

#include "lameduck/lint/yaml_reader.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lameduck::lint {

enum class Severity { info = 0, warning = 1, error = 2 };

const char* severity_name(Severity severity);  // "info", "warning", "error"

struct Finding {
  std::string rule;
  Severity severity = Severity::warning;
  std::string file;
  Position at;
  std::string object;  // "Deployment payments/my-agent"
  std::string path;    // "spec.template.spec.containers[0].lifecycle.preStop"
  std::string message;
  std::optional<std::string> silenced;  // the annotation's reason ("" when it gives none)
};

// "/spec/template/spec/containers/0/lifecycle" -> "spec.template.spec.containers[0].lifecycle".
std::string field_path(const std::string& pointer);

} // namespace lameduck::lint

#pragma once

// `lameduck lint`: read the manifests, run the rules, print the report, and end with the exit
// code CI acts on: 0 clean, 1 a finding at or above --fail-on, 2 input that could not be read
// as Kubernetes objects (the rest is still checked and reported).

#include "lameduck/lint/finding.hpp"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace lameduck::lint {

enum class OutputFormat { text, json, sarif };
enum class ColourMode { automatic, always, never };

struct LintOptions {
  std::vector<std::string> sources;        // files, directories, "-"
  OutputFormat output = OutputFormat::text;
  std::optional<Severity> fail_on = Severity::error;  // none: never exit 1
  ColourMode colour = ColourMode::automatic;
  bool list_rules = false;
};

int run_lint(const LintOptions& options, std::istream& in = std::cin, std::ostream& out = std::cout);

} // namespace lameduck::lint

#include "lameduck/lint/lint_command.hpp"

#include "lameduck/lint/linter.hpp"
#include "lameduck/lint/report.hpp"
#include "lameduck/lint/rule_catalog.hpp"

#include <cstdlib>
#include <unistd.h>

namespace lameduck::lint {
namespace {

// Colour only on a terminal, and never when NO_COLOR is set (no-color.org).
bool use_colour(ColourMode mode) {
  if (mode != ColourMode::automatic) {
    return mode == ColourMode::always;
  }
  const char* no_colour = std::getenv("NO_COLOR");
  return ::isatty(STDOUT_FILENO) == 1 && (no_colour == nullptr || *no_colour == '\0');
}

void list_rules(std::ostream& out) {
  for (const RuleInfo& rule : rule_catalog()) {
    out << rule.id << " (" << severity_name(rule.severity) << "): " << rule.summary << '\n';
  }
}

} // namespace

int run_lint(const LintOptions& options, std::istream& in, std::ostream& out) {
  if (options.list_rules) {
    list_rules(out);
    return 0;
  }
  const LintResult result = lint_manifests(read_manifests(options.sources, in));
  switch (options.output) {
  case OutputFormat::text:
    write_text_report(out, result, use_colour(options.colour));
    break;
  case OutputFormat::json:
    write_json_report(out, result);
    break;
  case OutputFormat::sarif:
    write_sarif_report(out, result);
    break;
  }
  out.flush();
  if (!result.errors.empty()) {
    return 2;
  }
  for (const Finding& finding : result.findings) {
    if (!finding.silenced && options.fail_on && finding.severity >= *options.fail_on) {
      return 1;
    }
  }
  return 0;
}

} // namespace lameduck::lint

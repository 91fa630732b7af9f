#include "lameduck/lint/report.hpp"

#include "lameduck/lint/lint_scope.hpp"
#include "lameduck/lint/rule_catalog.hpp"

#include <string>

namespace lameduck::lint {
namespace {

struct Palette {
  bool on;
  std::string paint(const char* code, const std::string& text) const {
    return on ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
};

const char* severity_colour(Severity severity) {
  switch (severity) {
  case Severity::error:
    return "1;31";
  case Severity::warning:
    return "1;33";
  case Severity::info:
    return "1;36";
  }
  return "0";
}

std::string padded(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

std::string plural(std::size_t count, const std::string& word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

} // namespace

void write_text_report(std::ostream& out, const LintResult& result, bool colour) {
  const Palette palette{colour};
  for (const InputError& error : result.errors) {
    out << palette.paint("1;31", error.file + ":" + std::to_string(error.at.line) + ":" + std::to_string(error.at.column) +
                                     ": error: " + error.message)
        << '\n';
  }
  if (!result.errors.empty()) {
    out << '\n';
  }
  std::size_t counts[3] = {0, 0, 0};
  std::size_t silenced = 0;
  std::string group;
  for (const Finding& finding : result.findings) {
    if (finding.silenced) {
      ++silenced;
      continue;
    }
    ++counts[static_cast<int>(finding.severity)];
    const std::string heading = finding.file + ": " + finding.object;
    if (heading != group) {
      out << (group.empty() ? "" : "\n") << palette.paint("1", heading) << '\n';
      group = heading;
    }
    const std::string place = std::to_string(finding.at.line) + ":" + std::to_string(finding.at.column);
    out << "  " << padded(place, 8) << palette.paint(severity_colour(finding.severity), padded(severity_name(finding.severity), 9))
        << finding.rule << "  " << finding.path << '\n';
    out << "          " << finding.message << '\n';
    if (const RuleInfo* rule = find_rule(finding.rule)) {
      out << "          " << palette.paint("2", std::string("why: ") + rule->why) << '\n';
      out << "          " << palette.paint("2", std::string("fix: ") + rule->fix) << '\n';
    }
  }
  if (!group.empty()) {
    out << '\n';
  }
  out << plural(counts[2], "error") << ", " << plural(counts[1], "warning") << ", " << counts[0] << " info"
      << " in " << plural(result.objects, "object");
  if (silenced > 0) {
    out << " (" << silenced << " silenced by " << k_lint_ignore_annotation << ")";
  }
  if (!result.errors.empty()) {
    out << "; " << plural(result.errors.size(), "input error");
  }
  out << '\n';
}

} // namespace lameduck::lint

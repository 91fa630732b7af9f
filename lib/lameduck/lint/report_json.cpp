#include "lameduck/lint/report.hpp"

#include "lameduck/lint/rule_catalog.hpp"

#include <nlohmann/json.hpp>

namespace lameduck::lint {

void write_json_report(std::ostream& out, const LintResult& result) {
  using nlohmann::json;
  json findings = json::array();
  std::size_t counts[3] = {0, 0, 0};
  std::size_t silenced = 0;
  for (const Finding& finding : result.findings) {
    json entry{{"rule", finding.rule},
               {"severity", severity_name(finding.severity)},
               {"file", finding.file},
               {"line", finding.at.line},
               {"column", finding.at.column},
               {"object", finding.object},
               {"path", finding.path},
               {"message", finding.message}};
    if (const RuleInfo* rule = find_rule(finding.rule)) {
      entry["why"] = rule->why;
      entry["fix"] = rule->fix;
    }
    if (finding.silenced) {
      entry["silenced"] = {{"reason", *finding.silenced}};
      ++silenced;
    } else {
      ++counts[static_cast<int>(finding.severity)];
    }
    findings.push_back(std::move(entry));
  }
  json errors = json::array();
  for (const InputError& error : result.errors) {
    errors.push_back({{"file", error.file}, {"line", error.at.line}, {"column", error.at.column}, {"message", error.message}});
  }
  const json report{{"findings", std::move(findings)},
                    {"inputErrors", std::move(errors)},
                    {"summary",
                     {{"objects", result.objects},
                      {"errors", counts[2]},
                      {"warnings", counts[1]},
                      {"info", counts[0]},
                      {"silenced", silenced}}}};
  out << report.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

} // namespace lameduck::lint

#include "lameduck/lint/report.hpp"

#include "lameduck/lint/rule_catalog.hpp"
#include "lameduck/version.hpp"

#include <nlohmann/json.hpp>

namespace lameduck::lint {
namespace {

using nlohmann::json;

const char* sarif_level(Severity severity) {
  switch (severity) {
  case Severity::error:
    return "error";
  case Severity::warning:
    return "warning";
  case Severity::info:
    return "note";
  }
  return "error";
}

// A file path as the relative URI reference artifactLocation.uri needs: unreserved characters
// and "/" as they are, the rest percent-encoded.
std::string file_uri(const std::string& path) {
  static const char* k_hex = "0123456789ABCDEF";
  std::string uri;
  for (const unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += k_hex[c >> 4];
      uri += k_hex[c & 15];
    }
  }
  return uri;
}

json location(const std::string& file, const Position& at) {
  return {{"physicalLocation",
           {{"artifactLocation", {{"uri", file_uri(file)}}},
            {"region", {{"startLine", std::max(at.line, 1)}, {"startColumn", std::max(at.column, 1)}}}}}};
}

} // namespace

void write_sarif_report(std::ostream& out, const LintResult& result) {
  json rules = json::array();
  const auto catalog = rule_catalog();
  for (const RuleInfo& rule : catalog) {
    rules.push_back({{"id", rule.id},
                     {"shortDescription", {{"text", rule.summary}}},
                     {"fullDescription", {{"text", rule.why}}},
                     {"help", {{"text", std::string(rule.fix) + " See docs/lint/" + rule.id + ".md."}}},
                     {"defaultConfiguration", {{"level", sarif_level(rule.severity)}}}});
  }
  json results = json::array();
  for (const Finding& finding : result.findings) {
    json entry{{"ruleId", finding.rule},
               {"level", sarif_level(finding.severity)},
               {"message", {{"text", finding.object + ": " + finding.path + ": " + finding.message}}},
               {"locations", json::array({location(finding.file, finding.at)})}};
    entry["locations"][0]["logicalLocations"] = json::array({{{"fullyQualifiedName", finding.object}, {"kind", "object"}}});
    for (std::size_t i = 0; i < catalog.size(); ++i) {
      if (finding.rule == catalog[i].id) {
        entry["ruleIndex"] = i;
      }
    }
    if (finding.silenced) {
      entry["suppressions"] = json::array({{{"kind", "inSource"}, {"justification", *finding.silenced}}});
    }
    results.push_back(std::move(entry));
  }
  json notifications = json::array();
  for (const InputError& error : result.errors) {
    notifications.push_back(
        {{"level", "error"}, {"message", {{"text", error.message}}}, {"locations", json::array({location(error.file, error.at)})}});
  }
  const json log{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                 {"version", "2.1.0"},
                 {"runs", json::array({{{"tool", {{"driver", {{"name", "lameduck lint"}, {"version", k_version}, {"rules", rules}}}}},
                                        {"invocations", json::array({{{"executionSuccessful", result.errors.empty()},
                                                                      {"toolExecutionNotifications", notifications}}})},
                                        {"results", results}}})}};
  out << log.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

} // namespace lameduck::lint

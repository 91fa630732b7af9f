#include "lameduck/lint/lint_scope.hpp"

#include "lameduck/core/text.hpp"
#include "lameduck/lint/rule_catalog.hpp"

#include <algorithm>

namespace lameduck::lint {
namespace {

using nlohmann::json;

bool same_namespace(const ManifestObject& a, const ManifestObject& b) {
  return a.namespace_name.empty() || b.namespace_name.empty() || a.namespace_name == b.namespace_name;
}

bool contains_all(const std::map<std::string, std::string>& labels, const std::map<std::string, std::string>& wanted) {
  for (const auto& [key, value] : wanted) {
    const auto found = labels.find(key);
    if (found == labels.end() || found->second != value) {
      return false;
    }
  }
  return true;
}

// A metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist).
// An empty selector selects everything, as policy/v1 PodDisruptionBudgets do.
bool label_selector_matches(const json* selector, const std::map<std::string, std::string>& labels) {
  if (selector == nullptr) {
    return false;
  }
  if (!contains_all(labels, string_map(object_at(*selector, "matchLabels")))) {
    return false;
  }
  const auto expressions = selector->find("matchExpressions");
  if (expressions == selector->end() || !expressions->is_array()) {
    return true;
  }
  for (const json& expression : *expressions) {
    if (!expression.is_object()) {
      return false;
    }
    const std::string key = string_at(expression, "key");
    const std::string op = string_at(expression, "operator");
    std::vector<std::string> values;
    if (const auto list = expression.find("values"); list != expression.end() && list->is_array()) {
      for (const json& value : *list) {
        if (value.is_string()) {
          values.push_back(value.get<std::string>());
        }
      }
    }
    const auto label = labels.find(key);
    const bool present = label != labels.end();
    const bool listed = present && std::find(values.begin(), values.end(), label->second) != values.end();
    if ((op == "In" && !listed) || (op == "NotIn" && listed) || (op == "Exists" && !present) ||
        (op == "DoesNotExist" && present)) {
      return false;
    }
    if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
      return false;
    }
  }
  return true;
}

std::map<std::string, std::string> service_selector(const ManifestObject& service) {
  const json* spec = object_at(service.json(), "spec");
  return string_map(spec ? object_at(*spec, "selector") : nullptr);
}

} // namespace

LintScope make_scope(const std::vector<ManifestObject>& objects) {
  LintScope scope;
  for (const ManifestObject& object : objects) {
    if (object.kind == "Service") {
      scope.services.push_back(&object);
    } else if (object.kind == "PodDisruptionBudget") {
      scope.disruption_budgets.push_back(&object);
    } else if (auto workload = workload_of(object)) {
      scope.workloads.push_back(std::move(*workload));
    }
  }
  return scope;
}

std::vector<const ManifestObject*> LintScope::services_selecting(const Workload& workload) const {
  std::vector<const ManifestObject*> selecting;
  for (const ManifestObject* service : services) {
    const auto selector = service_selector(*service);
    // A Service without a selector has its endpoints managed by hand: it selects no pod.
    if (!selector.empty() && same_namespace(*service, *workload.object) && contains_all(workload.labels, selector)) {
      selecting.push_back(service);
    }
  }
  return selecting;
}

std::vector<const Workload*> LintScope::workloads_selected_by(const ManifestObject& service) const {
  std::vector<const Workload*> selected;
  const auto selector = service_selector(service);
  for (const Workload& workload : workloads) {
    if (!selector.empty() && same_namespace(service, *workload.object) && contains_all(workload.labels, selector)) {
      selected.push_back(&workload);
    }
  }
  return selected;
}

bool LintScope::has_disruption_budget_for(const Workload& workload) const {
  for (const ManifestObject* budget : disruption_budgets) {
    const json* spec = object_at(budget->json(), "spec");
    if (spec && same_namespace(*budget, *workload.object) &&
        label_selector_matches(object_at(*spec, "selector"), workload.labels)) {
      return true;
    }
  }
  return false;
}

FindingSink::FindingSink(std::vector<Finding>& findings, const ManifestObject& object,
                         const std::map<std::string, std::string>& annotations)
    : m_findings(findings), m_object(object), m_annotation_pointer("/metadata/annotations") {
  const auto found = annotations.find(k_lint_ignore_annotation);
  if (found == annotations.end()) {
    return;
  }
  const std::string& value = found->second;
  const auto colon = value.find(':');
  const std::string reason = colon == std::string::npos ? "" : trim_blanks(value.substr(colon + 1));
  const std::string rules = value.substr(0, colon);
  std::size_t at = 0;
  while (at <= rules.size()) {
    const std::size_t comma = std::min(rules.find(',', at), rules.size());
    const std::string rule = trim_blanks(rules.substr(at, comma - at));
    if (!rule.empty()) {
      m_ignored[rule] = reason;
    }
    at = comma + 1;
  }
}

void FindingSink::report(const char* rule, const std::string& pointer, std::string message,
                         std::optional<Severity> severity) {
  const RuleInfo* info = find_rule(rule);
  Finding finding;
  finding.rule = rule;
  finding.severity = severity.value_or(info != nullptr ? info->severity : Severity::warning);
  finding.file = m_object.file;
  finding.at = m_object.position_of(pointer);
  finding.object = m_object.display_name();
  finding.path = field_path(pointer);
  finding.message = std::move(message);
  if (const auto ignored = m_ignored.find(rule); ignored != m_ignored.end()) {
    finding.silenced = ignored->second;
  }
  m_findings.push_back(std::move(finding));
}

void FindingSink::report_unknown_ignores() {
  for (const auto& [rule, reason] : m_ignored) {
    if (find_rule(rule) == nullptr) {
      report("lint-ignore-unknown-rule", m_annotation_pointer,
             std::string(k_lint_ignore_annotation) + " names \"" + rule + "\", which is no rule: it silences nothing");
    }
  }
}

} // namespace lameduck::lint

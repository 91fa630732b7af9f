#pragma once

// Everything one lint run sees at once, for the rules that relate objects: which Services
// select a workload's pods, and whether a PodDisruptionBudget covers them. An object without a
// namespace (as `helm template` prints most) is taken to be in the namespace of any other.

#include "lameduck/lint/finding.hpp"
#include "lameduck/lint/manifest.hpp"
#include "lameduck/lint/workload.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lameduck::lint {

struct LintScope {
  std::vector<Workload> workloads;
  std::vector<const ManifestObject*> services;
  std::vector<const ManifestObject*> disruption_budgets;

  std::vector<const ManifestObject*> services_selecting(const Workload& workload) const;
  std::vector<const Workload*> workloads_selected_by(const ManifestObject& service) const;
  bool has_disruption_budget_for(const Workload& workload) const;
};

LintScope make_scope(const std::vector<ManifestObject>& objects);

// Reports the findings about one object, silenced as its annotation
// `lameduck.dev/lint-ignore: "RULE[,RULE...][: reason]"` says.
class FindingSink {
public:
  FindingSink(std::vector<Finding>& findings, const ManifestObject& object,
              const std::map<std::string, std::string>& annotations);

  // At the field `pointer` (from the object); `severity` overrides the rule's usual one.
  void report(const char* rule, const std::string& pointer, std::string message,
              std::optional<Severity> severity = std::nullopt);

  // lint-ignore names that are not rules: reported, so a typo does not silence nothing quietly.
  void report_unknown_ignores();

private:
  std::vector<Finding>& m_findings;
  const ManifestObject& m_object;
  std::map<std::string, std::string> m_ignored;  // rule -> reason
  std::string m_annotation_pointer;
};

inline constexpr const char* k_lint_ignore_annotation = "lameduck.dev/lint-ignore";

} // namespace lameduck::lint

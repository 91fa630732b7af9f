#include "lameduck/lint/linter.hpp"

#include "lameduck/lint/rules.hpp"

#include <algorithm>
#include <tuple>

namespace lameduck::lint {

LintResult lint_manifests(const Manifests& manifests) {
  LintResult result;
  result.errors = manifests.errors;
  result.objects = manifests.objects.size();
  const LintScope scope = make_scope(manifests.objects);
  for (const Workload& workload : scope.workloads) {
    FindingSink sink(result.findings, *workload.object, workload.annotations);
    check_containers(workload, scope, sink);
    check_workload(workload, scope, sink);
    sink.report_unknown_ignores();
  }
  for (const ManifestObject* service : scope.services) {
    const nlohmann::json* metadata = object_at(service->json(), "metadata");
    FindingSink sink(result.findings, *service, string_map(metadata ? object_at(*metadata, "annotations") : nullptr));
    check_service(*service, scope, sink);
    sink.report_unknown_ignores();
  }
  std::stable_sort(result.findings.begin(), result.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.file, a.at.line, a.at.column, a.rule) < std::tie(b.file, b.at.line, b.at.column, b.rule);
  });
  return result;
}

} // namespace lameduck::lint

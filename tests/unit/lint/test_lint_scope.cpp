#include "lameduck/lint/lint_scope.hpp"

#include <doctest/doctest.h>

using namespace lameduck::lint;

namespace {

Manifests manifests_of(const std::string& text) {
  Manifests manifests;
  add_manifest_text(manifests, "test.yaml", text);
  REQUIRE(manifests.errors.empty());
  return manifests;
}

const std::string k_deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
                                 "spec:\n  template:\n    metadata:\n      labels: {app: api, track: stable}\n"
                                 "    spec:\n      containers: [{name: api}]\n";

} // namespace

TEST_CASE("LintScope") {
  SUBCASE("a Service selects by a subset of the labels, in the same namespace or none written") {
    const auto manifests = manifests_of(k_deployment +
                                        "---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {app: api}}\n"
                                        "---\napiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: other}\n"
                                        "spec: {selector: {app: api}}\n"
                                        "---\napiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {}\n");
    const auto scope = make_scope(manifests.objects);
    REQUIRE(scope.workloads.size() == 1);
    const auto selecting = scope.services_selecting(scope.workloads[0]);
    REQUIRE(selecting.size() == 1);
    CHECK(selecting[0]->name == "a");
  }
  SUBCASE("PodDisruptionBudget selectors: matchLabels and matchExpressions") {
    const auto covered = [&](const std::string& selector) {
      const auto manifests = manifests_of(k_deployment + "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\n"
                                                         "metadata: {name: pdb}\nspec:\n  selector: " +
                                          selector + "\n");
      const auto scope = make_scope(manifests.objects);
      return scope.has_disruption_budget_for(scope.workloads[0]);
    };
    CHECK(covered("{matchLabels: {app: api}}"));
    CHECK_FALSE(covered("{matchLabels: {app: web}}"));
    CHECK(covered("{matchExpressions: [{key: track, operator: In, values: [stable, canary]}]}"));
    CHECK_FALSE(covered("{matchExpressions: [{key: track, operator: NotIn, values: [stable]}]}"));
    CHECK(covered("{matchExpressions: [{key: app, operator: Exists}]}"));
    CHECK_FALSE(covered("{matchExpressions: [{key: app, operator: DoesNotExist}]}"));
    CHECK_FALSE(covered("{matchExpressions: [{key: app, operator: Sometimes}]}"));
    CHECK(covered("{}"));
  }
  SUBCASE("the lint-ignore annotation silences the rules it names, with its reason") {
    const auto manifests = manifests_of(k_deployment);
    std::vector<Finding> findings;
    FindingSink sink(findings, manifests.objects[0],
                     {{k_lint_ignore_annotation, "rollout-to-zero , no-disruption-budget: one replica by design"}});
    sink.report("rollout-to-zero", "/spec", "m");
    sink.report("grace-beyond-autoscaler", "/spec", "m");
    sink.report_unknown_ignores();
    REQUIRE(findings.size() == 2);
    CHECK(findings[0].silenced == std::optional<std::string>("one replica by design"));
    CHECK_FALSE(findings[1].silenced);
  }
}

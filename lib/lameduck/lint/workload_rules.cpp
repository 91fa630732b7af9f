// The rules about a workload as a whole: its grace period against the node autoscaler, how a
// rollout may take its replicas away, and whether a disruption budget covers its pods.

#include "lameduck/lint/rules.hpp"

#include <cmath>

namespace lameduck::lint {
namespace {

using nlohmann::json;

// cluster-autoscaler's --max-graceful-termination-sec default.
constexpr long long k_autoscaler_grace_seconds = 600;

// An IntOrString of a rolling update against the replica count: a percentage rounds down for
// maxUnavailable and up for maxSurge (pkg/controller/deployment/util ResolveFenceposts).
std::optional<long long> scaled(const json& value, long long replicas, bool round_up) {
  if (value.is_number_integer()) {
    return value.get<long long>();
  }
  if (!value.is_string()) {
    return std::nullopt;
  }
  const std::string text = value.get<std::string>();
  if (text.empty() || text.back() != '%') {
    return std::nullopt;
  }
  try {
    const double percent = std::stod(text.substr(0, text.size() - 1));
    const double share = percent * static_cast<double>(replicas) / 100.0;
    return static_cast<long long>(round_up ? std::ceil(share) : std::floor(share));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void check_rollout(const Workload& workload, FindingSink& sink) {
  if (workload.object->kind != "Deployment" || !workload.replicas) {
    return;
  }
  const long long replicas = *workload.replicas;
  if (replicas < 1 || replicas > 2) {
    return;
  }
  const json* spec = object_at(workload.object->json(), "spec");
  const json* strategy = spec ? object_at(*spec, "strategy") : nullptr;
  if (strategy != nullptr && string_at(*strategy, "type") == "Recreate") {
    return;  // stopping every pod first is what Recreate is for
  }
  const json* rolling = strategy ? object_at(*strategy, "rollingUpdate") : nullptr;
  const json unavailable_value = rolling && rolling->contains("maxUnavailable") ? rolling->at("maxUnavailable") : json("25%");
  const json surge_value = rolling && rolling->contains("maxSurge") ? rolling->at("maxSurge") : json("25%");
  auto unavailable = scaled(unavailable_value, replicas, false);
  const auto surge = scaled(surge_value, replicas, true);
  if (!unavailable || !surge) {
    return;
  }
  if (*unavailable == 0 && *surge == 0) {
    unavailable = 1;  // the controller's own fencepost: it must be able to make progress
  }
  if (*unavailable >= replicas) {
    const bool written = rolling && rolling->contains("maxUnavailable");
    sink.report("rollout-to-zero", written ? "/spec/strategy/rollingUpdate/maxUnavailable" : "/spec/strategy",
                "maxUnavailable " + (unavailable_value.is_string() ? unavailable_value.get<std::string>() : unavailable_value.dump()) + (written ? "" : " (the default)") + " with " +
                    std::to_string(replicas) + (replicas == 1 ? " replica" : " replicas") +
                    ": a rollout may stop every pod before a new one is ready");
  }
}

void check_disruption_budget(const Workload& workload, const LintScope& scope, FindingSink& sink) {
  const std::string& kind = workload.object->kind;
  if ((kind != "Deployment" && kind != "StatefulSet") || !workload.replicas || *workload.replicas < 2) {
    return;
  }
  const auto services = scope.services_selecting(workload);
  if (services.empty() || scope.has_disruption_budget_for(workload)) {
    return;
  }
  sink.report("no-disruption-budget", "/spec/replicas",
              std::to_string(*workload.replicas) + " replicas behind Service " + services.front()->name +
                  " and no PodDisruptionBudget selects their pods");
}

} // namespace

void check_workload(const Workload& workload, const LintScope& scope, FindingSink& sink) {
  if (workload.grace_seconds > k_autoscaler_grace_seconds) {
    sink.report("grace-beyond-autoscaler", workload.pod_spec_pointer + "/terminationGracePeriodSeconds",
                "terminationGracePeriodSeconds is " + std::to_string(workload.grace_seconds) +
                    "s; cluster-autoscaler removes a node after " + std::to_string(k_autoscaler_grace_seconds) +
                    "s by default");
  }
  check_rollout(workload, sink);
  check_disruption_budget(workload, scope, sink);
}

} // namespace lameduck::lint

#include "lameduck/lint/rule_catalog.hpp"

#include <array>

namespace lameduck::lint {
namespace {

constexpr std::array k_rules{
    RuleInfo{"prestop-outlasts-grace", Severity::error, "The preStop hook can run as long as the grace period.",
             "The kubelet counts the hook inside terminationGracePeriodSeconds and sends SIGKILL when it ends: "
             "the app gets no time after SIGTERM, or the hook itself is killed.",
             "Keep the hook well under the grace period (lameduck's prestop: --grace-period equal to it, "
             "with --margin), or raise terminationGracePeriodSeconds."},
    RuleInfo{"grace-period-mismatch", Severity::warning,
             "prestop's --grace-period differs from the pod's terminationGracePeriodSeconds.",
             "prestop plans every phase from --grace-period: longer than the pod's, its drain is cut by SIGKILL "
             "when the API cannot tell it the real deadline; shorter, it gives up time the pod has.",
             "Set --grace-period to terminationGracePeriodSeconds (the Helm chart does this)."},
    RuleInfo{"shell-hook", Severity::warning, "A lifecycle hook runs through a shell.",
             "Distroless and scratch images have no shell: the hook fails at once (FailedPreStopHook) and the "
             "kubelet goes straight to SIGTERM, with nothing drained.",
             "Exec the program directly (command: [/bin/prestop, ...]), or use lifecycle.preStop.sleep."},
    RuleInfo{"exec-sleep-hook", Severity::info, "The preStop hook is an exec of sleep.",
             "It needs a sleep binary in the image, and it guesses how long consumers take to stop sending.",
             "Use lameduck's prestop, which waits for the endpoint change and the traffic to stop, or "
             "lifecycle.preStop.sleep (Kubernetes 1.30+), which needs no binary."},
    RuleInfo{"readiness-slower-than-min-delay", Severity::warning,
             "The readiness probe takes longer to see readiness off than prestop's --min-delay.",
             "Until the probe fails failureThreshold times the endpoint stays serving, and kube-proxy still "
             "sends to serving terminating endpoints when no endpoint is ready.",
             "Probe readyz-toggle with periodSeconds x failureThreshold at most --min-delay "
             "(periodSeconds: 2, failureThreshold: 1), or raise --min-delay."},
    RuleInfo{"no-graceful-stop", Severity::warning,
             "A Service-backed container has neither a preStop hook nor a readiness probe.",
             "It leaves its Service's endpoints only as it stops: requests routed in the meantime meet a "
             "closed port (502, connection refused).",
             "Add lameduck's prestop as the preStop hook and readyz-toggle as the readiness probe."},
    RuleInfo{"rollout-to-zero", Severity::error, "A rollout may take every replica away at once.",
             "With maxUnavailable at least the replica count, the Deployment controller may stop all old pods "
             "before a new one is ready: the Service has no endpoint.",
             "Use maxUnavailable: 0 with maxSurge: 1, or more replicas."},
    RuleInfo{"no-disruption-budget", Severity::warning,
             "A multi-replica Service-backed workload has no PodDisruptionBudget.",
             "A node drain (kubectl drain, cluster-autoscaler, an upgrade) may evict every replica at once.",
             "Add a PodDisruptionBudget selecting its pods (maxUnavailable: 1)."},
    RuleInfo{"publish-not-ready-addresses", Severity::error, "The Service publishes not-ready addresses.",
             "Its EndpointSlices keep terminating pods ready: consumers keep sending to a stopping pod, and "
             "prestop's endpoint wait can never see the pod leave (it ends at --endpoints-timeout).",
             "Drop publishNotReadyAddresses for a Service that serves traffic (keep it on a headless Service "
             "for peer discovery only)."},
    RuleInfo{"sidecar-as-container", Severity::warning, "A proxy or log shipper runs as a plain container.",
             "It gets SIGTERM with the app and may exit before the app's last request or log line.",
             "Make it a native sidecar (initContainers with restartPolicy: Always, Kubernetes 1.29+), or hold it "
             "with prestop --hold-until-drained as its own preStop."},
    RuleInfo{"liveness-same-as-readiness", Severity::warning,
             "The liveness and readiness probes are the same check with the same thresholds.",
             "An overloaded or draining agent fails both at once: it is restarted, losing its work, instead of "
             "being taken out of rotation.",
             "Give liveness its own endpoint (readyz-toggle's /livez) or a higher failureThreshold."},
    RuleInfo{"grace-beyond-autoscaler", Severity::warning,
             "terminationGracePeriodSeconds is longer than cluster-autoscaler waits.",
             "On scale-down cluster-autoscaler waits at most --max-graceful-termination-sec (600 s by default) "
             "and then removes the node, whatever the pod's grace period.",
             "Keep the grace period at most 600 s, or raise the autoscaler's limit to match."},
    RuleInfo{"lint-ignore-unknown-rule", Severity::warning, "A lint-ignore annotation names no rule.",
             "A misspelt rule id silences nothing, and the finding it meant to silence still fails the build.",
             "Spell the rule id as lameduck lint prints it (lameduck lint --list-rules)."},
};

} // namespace

std::span<const RuleInfo> rule_catalog() {
  return k_rules;
}

const RuleInfo* find_rule(const std::string& id) {
  for (const RuleInfo& rule : k_rules) {
    if (id == rule.id) {
      return &rule;
    }
  }
  return nullptr;
}

const char* severity_name(Severity severity) {
  switch (severity) {
  case Severity::info:
    return "info";
  case Severity::warning:
    return "warning";
  case Severity::error:
    return "error";
  }
  return "error";
}

std::string field_path(const std::string& pointer) {
  std::string path;
  std::size_t at = 1;
  while (at <= pointer.size() && !pointer.empty()) {
    const std::size_t end = std::min(pointer.find('/', at), pointer.size());
    std::string segment = pointer.substr(at, end - at);
    for (std::size_t i = 0; (i = segment.find('~', i)) != std::string::npos; ++i) {
      segment.replace(i, 2, segment.compare(i, 2, "~1") == 0 ? "/" : "~");
    }
    const bool index = !segment.empty() && segment.find_first_not_of("0123456789") == std::string::npos;
    if (index) {
      path += "[" + segment + "]";
    } else {
      path += (path.empty() ? "" : ".") + segment;
    }
    at = end + 1;
  }
  return path;
}

} // namespace lameduck::lint

// The rules about a Service: whether its endpoints can ever show a stopping pod as not ready.

#include "lameduck/lint/rules.hpp"

#include <algorithm>

namespace lameduck::lint {

void check_service(const ManifestObject& service, const LintScope& scope, FindingSink& sink) {
  const nlohmann::json* spec = object_at(service.json(), "spec");
  const auto publish = spec ? spec->find("publishNotReadyAddresses") : nlohmann::json::const_iterator{};
  if (spec == nullptr || publish == spec->end() || *publish != true) {
    return;
  }
  // prestop waits on this Service when it names it with --service, or names none (then it
  // watches every slice that lists the pod).
  for (const Workload* workload : scope.workloads_selected_by(service)) {
    for (const WorkloadContainer& container : workload->containers) {
      const auto flags = prestop_of(*container.spec);
      if (flags && (flags->services.empty() || std::find(flags->services.begin(), flags->services.end(),
                                                          service.name) != flags->services.end())) {
        sink.report("publish-not-ready-addresses", "/spec/publishNotReadyAddresses",
                    "Service " + service.name + " keeps terminating pods ready: prestop in " +
                        workload->object->display_name() + " waits for its pod to turn not ready here, which never happens",
                    Severity::error);
        return;
      }
    }
  }
  // A headless Service publishing not-ready peers is how StatefulSets find each other: no traffic
  // is balanced through it.
  if (string_at(*spec, "clusterIP") == "None") {
    return;
  }
  sink.report("publish-not-ready-addresses", "/spec/publishNotReadyAddresses",
              "Service " + service.name + " keeps terminating pods ready: consumers keep sending to pods that stop",
              Severity::warning);
}

} // namespace lameduck::lint

// The rules about one container: its hooks against the pod's grace period, its probes, and
// whether it is a proxy or shipper that should be a native sidecar.

#include "lameduck/lint/rules.hpp"

#include <array>
#include <cmath>
#include <sstream>

namespace lameduck::lint {
namespace {

using nlohmann::json;

std::string seconds_text(double seconds) {
  std::ostringstream text;
  text << seconds << "s";
  return text.str();
}

std::string grace_text(const Workload& workload) {
  return std::to_string(workload.grace_seconds) + "s" +
         (workload.grace_written ? "" : " (terminationGracePeriodSeconds left at its default)");
}

double to_seconds(Duration duration) {
  return std::chrono::duration<double>(duration).count();
}

long long integer_at(const json& parent, const char* key, long long fallback) {
  const auto found = parent.find(key);
  return found != parent.end() && found->is_number_integer() ? found->get<long long>() : fallback;
}

void check_hook_length(const Workload& workload, const WorkloadContainer& container, const json& pre_stop,
                       FindingSink& sink) {
  const double grace = static_cast<double>(workload.grace_seconds);
  const std::string pointer = container.pointer + "/lifecycle/preStop";
  if (const json* sleep = object_at(pre_stop, "sleep")) {
    const long long seconds = integer_at(*sleep, "seconds", -1);
    if (seconds >= 0 && static_cast<double>(seconds) >= grace) {
      sink.report("prestop-outlasts-grace", pointer + "/sleep/seconds",
                  "preStop sleeps " + std::to_string(seconds) + "s, not less than the pod's grace period of " +
                      grace_text(workload));
    }
  }
  const json* exec = object_at(pre_stop, "exec");
  const auto command = exec && exec->contains("command") ? read_hook_command(exec->at("command")) : std::nullopt;
  if (!command) {
    return;
  }
  const std::string command_pointer = pointer + "/exec/command";
  if (command->sleep_seconds && *command->sleep_seconds >= grace) {
    sink.report("prestop-outlasts-grace", command_pointer,
                "preStop sleeps " + seconds_text(*command->sleep_seconds) +
                    " in its exec command, not less than the pod's grace period of " + grace_text(workload));
  }
  if (command->prestop) {
    const auto& flags = *command->prestop;
    const double budget = to_seconds(flags.grace_period - flags.margin);
    if (budget >= grace) {
      sink.report("prestop-outlasts-grace", command_pointer,
                  "prestop's budget is " + seconds_text(budget) + " (--grace-period " +
                      format_duration(flags.grace_period) + " - --margin " + format_duration(flags.margin) +
                      "), not less than the pod's grace period of " + grace_text(workload));
    }
    if (to_seconds(flags.grace_period) != grace) {
      sink.report("grace-period-mismatch", command_pointer,
                  "prestop's --grace-period is " + format_duration(flags.grace_period) +
                      (flags.grace_period_written ? "" : " (its default)") + " but the pod's grace period is " +
                      grace_text(workload));
    }
  }
  if (command->plain_sleep) {
    sink.report("exec-sleep-hook", command_pointer,
                "preStop execs `" + command->argv[0] + " " + command->argv[1] +
                    "`: a guessed delay, and a binary the image must have");
  }
}

void check_shell_hooks(const WorkloadContainer& container, const json& lifecycle, FindingSink& sink) {
  for (const char* hook : {"preStop", "postStart"}) {
    const json* handler = object_at(lifecycle, hook);
    const json* exec = handler ? object_at(*handler, "exec") : nullptr;
    const auto command = exec && exec->contains("command") ? read_hook_command(exec->at("command")) : std::nullopt;
    if (command && command->shell) {
      const std::string image = string_at(*container.spec, "image");
      sink.report("shell-hook", container.pointer + "/lifecycle/" + hook + "/exec/command",
                  std::string(hook) + " runs `" + command->argv[0] + " -c`: the image" +
                      (image.empty() ? "" : " " + image) + " must have that shell");
    }
  }
}

void check_readiness_timing(const WorkloadContainer& container, const PrestopFlags& flags, FindingSink& sink) {
  const json* probe = object_at(*container.spec, "readinessProbe");
  if (probe == nullptr) {
    return;
  }
  const long long period = integer_at(*probe, "periodSeconds", 10);
  const long long failures = integer_at(*probe, "failureThreshold", 3);
  const double sees_off = static_cast<double>(period * failures);
  if (sees_off > to_seconds(flags.min_delay)) {
    sink.report("readiness-slower-than-min-delay", container.pointer + "/readinessProbe",
                "the readiness probe sees readiness off after up to " + std::to_string(period * failures) +
                    "s (periodSeconds " + std::to_string(period) + " x failureThreshold " + std::to_string(failures) +
                    "), longer than prestop's --min-delay of " + format_duration(flags.min_delay));
  }
}

// The part of a probe that says what it checks, with the kubelet's defaults filled in.
std::optional<json> probe_handler(const json& probe) {
  for (const char* kind : {"httpGet", "tcpSocket", "grpc", "exec"}) {
    if (const json* handler = object_at(probe, kind)) {
      json normal = *handler;
      if (std::string(kind) == "httpGet") {
        const std::string path = string_at(normal, "path");
        normal["path"] = path.empty() ? "/" : path;
        if (!normal.contains("scheme")) {
          normal["scheme"] = "HTTP";
        }
      }
      return json{{kind, normal}};
    }
  }
  return std::nullopt;
}

std::string port_text(const json& handler) {
  const auto port = handler.find("port");
  if (port == handler.end()) {
    return "?";
  }
  return port->is_string() ? port->get<std::string>() : port->dump();
}

std::string describe_handler(const json& handler) {
  const std::string kind = handler.begin().key();
  const json& value = handler.begin().value();
  if (kind == "httpGet") {
    return "httpGet " + string_at(value, "path") + " on port " + port_text(value);
  }
  if (kind == "exec") {
    return "the same exec command";
  }
  return kind + " on port " + port_text(value);
}

void check_probe_overlap(const WorkloadContainer& container, FindingSink& sink) {
  const json* liveness = object_at(*container.spec, "livenessProbe");
  const json* readiness = object_at(*container.spec, "readinessProbe");
  if (liveness == nullptr || readiness == nullptr) {
    return;
  }
  const auto live_handler = probe_handler(*liveness);
  const auto ready_handler = probe_handler(*readiness);
  const long long period = integer_at(*liveness, "periodSeconds", 10);
  const long long failures = integer_at(*liveness, "failureThreshold", 3);
  if (live_handler && live_handler == ready_handler && period == integer_at(*readiness, "periodSeconds", 10) &&
      failures == integer_at(*readiness, "failureThreshold", 3)) {
    sink.report("liveness-same-as-readiness", container.pointer + "/livenessProbe",
                "livenessProbe and readinessProbe both check " + describe_handler(*live_handler) + " every " +
                    std::to_string(period) + "s, failing after " + std::to_string(failures));
  }
}

// The last part of an image reference, without tag or digest: "docker.io/envoyproxy/envoy:v1" -> "envoy".
std::string image_name(const std::string& image) {
  std::string name = image.substr(0, image.find('@'));
  const auto slash = name.rfind('/');
  if (slash != std::string::npos) {
    name = name.substr(slash + 1);
  }
  return name.substr(0, name.find(':'));
}

constexpr std::array k_sidecar_names{"istio-proxy", "proxyv2",      "envoy",          "linkerd-proxy",
                                     "cloud-sql-proxy", "cloudsql-proxy", "oauth2-proxy", "fluent-bit",
                                     "fluentd",     "vector",       "otel-collector", "opentelemetry-collector"};

bool is_known_sidecar(const std::string& name) {
  for (const char* known : k_sidecar_names) {
    if (name == known || name.starts_with(std::string(known) + "-")) {
      return true;
    }
  }
  return false;
}

void check_sidecar(const Workload& workload, const WorkloadContainer& container, FindingSink& sink) {
  const auto list = workload.pod_spec->find("containers");
  if (container.native_sidecar || list == workload.pod_spec->end() || !list->is_array() || list->size() < 2) {
    return;
  }
  const std::string image = image_name(string_at(*container.spec, "image"));
  const std::string matched = is_known_sidecar(container.name) ? container.name : is_known_sidecar(image) ? image : "";
  if (matched.empty()) {
    return;
  }
  if (const auto flags = prestop_of(*container.spec); flags && flags->hold_until_drained) {
    return;  // held until the agent has drained: the issue this rule is about is handled
  }
  sink.report("sidecar-as-container", container.pointer + "/name",
              "container " + container.name + " (" + matched +
                  ") is a plain container: it is stopped together with the app, not after it");
}

// Whether one of the Services sends to one of the container's ports: a targetPort (or, without
// one, the port) that is its containerPort's number or name.
bool serves_a_service(const json& container, const std::vector<const ManifestObject*>& services) {
  const auto ports = container.find("ports");
  if (ports == container.end() || !ports->is_array()) {
    return false;
  }
  for (const ManifestObject* service : services) {
    const json* spec = object_at(service->json(), "spec");
    const auto service_ports = spec ? spec->find("ports") : json::const_iterator{};
    if (spec == nullptr || service_ports == spec->end() || !service_ports->is_array()) {
      continue;
    }
    for (const json& service_port : *service_ports) {
      if (!service_port.is_object()) {
        continue;
      }
      const json target = service_port.contains("targetPort") ? service_port["targetPort"] : service_port.value("port", json());
      for (const json& port : *ports) {
        if (port.is_object() && ((target.is_number_integer() && port.value("containerPort", json()) == target) ||
                                 (target.is_string() && !string_at(port, "name").empty() && string_at(port, "name") == target))) {
          return true;
        }
      }
    }
  }
  return false;
}

} // namespace

std::optional<PrestopFlags> prestop_of(const json& container) {
  const json* lifecycle = object_at(container, "lifecycle");
  const json* pre_stop = lifecycle ? object_at(*lifecycle, "preStop") : nullptr;
  const json* exec = pre_stop ? object_at(*pre_stop, "exec") : nullptr;
  const auto command = exec && exec->contains("command") ? read_hook_command(exec->at("command")) : std::nullopt;
  return command ? command->prestop : std::nullopt;
}

void check_containers(const Workload& workload, const LintScope& scope, FindingSink& sink) {
  const auto services = scope.services_selecting(workload);
  for (const WorkloadContainer& container : workload.containers) {
    const json* lifecycle = object_at(*container.spec, "lifecycle");
    const json* pre_stop = lifecycle ? object_at(*lifecycle, "preStop") : nullptr;
    if (pre_stop != nullptr) {
      check_hook_length(workload, container, *pre_stop, sink);
    }
    if (lifecycle != nullptr) {
      check_shell_hooks(container, *lifecycle, sink);
    }
    if (const auto flags = prestop_of(*container.spec)) {
      check_readiness_timing(container, *flags, sink);
    }
    check_probe_overlap(container, sink);
    check_sidecar(workload, container, sink);
    if (pre_stop == nullptr && object_at(*container.spec, "readinessProbe") == nullptr &&
        serves_a_service(*container.spec, services)) {
      sink.report("no-graceful-stop", container.pointer,
                  "container " + container.name +
                      " serves a Service with neither a preStop hook nor a readiness probe");
    }
  }
}

} // namespace lameduck::lint

#include "cli/prestop_flags.hpp"

namespace lameduck::cli {

std::optional<int> parse_prestop_flags(int argc, const char* const* argv, PrestopOptions& options,
                                       LoggingOptions& logging, std::ostream& out, std::ostream& err) {
  const auto app = make_app("prestop", "The preStop hook: readiness off, endpoints gone, agent drained, "
                                            "all before the grace period ends.");
  add_logging_options(*app, logging);
  add_duration(*app, "--grace-period", options.grace_period,
                    "The pod's terminationGracePeriodSeconds (the kubelet counts it from deletion)");
  add_duration(*app, "--margin", options.margin, "Kept free before the grace period ends, for SIGTERM handling");
  add_url(*app, "--readyz-url", options.readyz_url, "readyz-toggle's URL; empty skips phase 1");
  auto& deregistration = options.deregistration;
  add_duration(*app, "--deregister-timeout", options.deregister_timeout,
                    "Longest the deregister phase may take (at most half the budget)");
  add_urls(*app, "--etcd-endpoint", deregistration.etcd.endpoints,
                "An etcd v3 member to deregister from (repeatable, or comma-separated)");
  app->add_option("--etcd-key", deregistration.etcd.keys, "An etcd key to delete (repeatable)")->type_name("KEY");
  app->add_option("--etcd-lease-from-key", deregistration.etcd.lease_keys,
                  "An etcd key naming the agent's lease (attached to it, or as its value); the lease is revoked, "
                  "and every key under it goes (repeatable)")
      ->type_name("KEY");
  app->add_option("--etcd-ca-file", deregistration.etcd.ca_file, "CA bundle for https etcd members")->type_name("PATH");
  app->add_option("--etcd-cert-file", deregistration.etcd.cert_file, "Client certificate for etcd")->type_name("PATH");
  app->add_option("--etcd-key-file", deregistration.etcd.key_file, "Client certificate's key for etcd")->type_name("PATH");
  app->add_option("--etcd-user", deregistration.etcd.user, "etcd user, when etcd has authentication on")
      ->type_name("NAME");
  app->add_option("--etcd-password-file", deregistration.etcd.password_file, "File holding the etcd user's password")
      ->type_name("PATH");
  add_url(*app, "--deregister-url", deregistration.http.url,
               "A registry URL to call on the way out (Consul: /v1/agent/service/deregister/ID); 2xx or 404 is done");
  app->add_option("--deregister-method", deregistration.http.method, "The method for --deregister-url")
      ->check(CLI::IsMember({"PUT", "POST", "DELETE", "GET", "PATCH"}))
      ->default_str(deregistration.http.method)
      ->type_name("METHOD");
  app->add_option("--service", options.services, "A Service whose EndpointSlices to watch (repeatable); "
                                                 "none: every slice listing this pod")
      ->type_name("NAME");
  auto* endpoints_timeout = app->add_option_function<std::string>(
      "--endpoints-timeout", [&options](const std::string& text) { options.endpoints_timeout = parse_duration(text).value(); },
      "Longest watch of the EndpointSlices [default: half the budget]");
  endpoints_timeout->check(duration_validator())->type_name("DURATION");
  add_duration(*app, "--min-delay", options.min_delay,
                    "Wait after the endpoint is not ready, for kube-proxy and load balancers");
  add_duration(*app, "--fallback-delay", options.fallback_delay,
                    "Wait instead of the watch when the API cannot be used");
  add_duration(*app, "--until-quiet", options.until_quiet,
               "Then wait until the serving ports have had no new connection and no new byte for this long "
               "(consumers that stop sending late); 0 skips the phase");
  app->add_option("--quiet-port", options.quiet_ports,
                  "A port whose traffic the quiet phase watches (repeatable, or comma-separated); default: the "
                  "pod's containerPorts")
      ->check(CLI::Range(1, 65535).description(""))
      ->delimiter(',')
      ->type_name("PORT");
  auto* quiet_timeout = app->add_option_function<std::string>(
      "--quiet-timeout", [&options](const std::string& text) { options.quiet_timeout = parse_duration(text).value(); },
      "Longest wait for quiet [default: half of what is left when it starts]");
  quiet_timeout->check(duration_validator())->type_name("DURATION");
  std::vector<std::string> drain_urls;
  std::vector<std::string> step_texts;
  auto* drain_url = add_drain_flags(*app, options.drain,
                                    "A drain endpoint: the agent's, then sidecars' that speak the protocol "
                                    "(repeatable; a drain step each, in order with --drain-step)",
                                    &drain_urls);
  auto* drain_step = app->add_option("--drain-step", step_texts,
                                     "A drain step, in order with --drain-url (repeatable): url:URL, "
                                     "signal:NAME:SIGNAL, signal:pidfile=PATH:SIGNAL or exec:PATH[,ARG]...; "
                                     "@DURATION at the end gives it its own timeout")
                          ->check(CLI::Validator(
                              [](const std::string& text) -> std::string {
                                const auto step = parse_drain_step(text);
                                return step ? std::string{} : step.error().message;
                              },
                              "", "step"))
                          ->type_name("STEP");
  app->add_flag("--hold-until-drained", options.hold_until_drained,
                "A sidecar's own preStop: wait until the agent's prestop has finished (its result in the shared "
                "--state-dir, same termination id), within the grace period, and do nothing else");
  app->add_option("--termination-id", options.termination_id, "Sent to the agent; default: POD_UID, else a random id")
      ->type_name("ID");
  app->add_option("--termination-log", options.termination_log, "Where the summary goes for kubectl describe")
      ->type_name("PATH")
      ->default_str(options.termination_log);
  app->add_option("--container-stdout", options.container_stdout,
                  "Where else the summary goes, for kubectl logs (the container's main process); empty: nowhere")
      ->type_name("PATH")
      ->default_str(options.container_stdout);
  app->add_flag("--event", options.event, "Also post a Kubernetes Event on the pod");
  add_url(*app, "--notify-url", options.notify_url,
               "POST the summary here at the end (Idempotency-Key: the termination id), retried until the deadline");
  app->add_option("--state-dir", options.state_dir, "Lock and result of this termination, shared by deliveries")
      ->type_name("DIR")
      ->default_str(options.state_dir);
  app->add_flag("--plan", options.plan, "Print the deadline and each phase's budget, and exit");
  app->add_option("--pod-name", options.pod.name, "Overrides POD_NAME")->type_name("NAME");
  app->add_option("--pod-namespace", options.pod.namespace_name, "Overrides POD_NAMESPACE")->type_name("NAMESPACE");
  app->add_option("--pod-uid", options.pod.uid, "Overrides POD_UID")->type_name("UID");
  app->add_option("--pod-ip", options.pod.ip, "Overrides POD_IP")->type_name("IP");
  add_url(*app, "--kube-api", options.kube_api, "The API server; default: in-cluster");
  app->add_option("--kube-token-file", options.kube_token_file, "Bearer token file; default: the service account's")
      ->type_name("PATH");
  app->add_option("--kube-ca-file", options.kube_ca_file, "CA bundle for the API server; default: the service account's")
      ->type_name("PATH");

  bind_environment(*app);
  if (const auto exit = parse(*app, argc, argv, out, err)) {
    return exit;
  }
  // The steps in the order they were written, whichever flag wrote them; values from the
  // environment, which the parse order does not show, come after those of the command line.
  std::size_t next_url = 0;
  std::size_t next_step = 0;
  const auto add_url_step = [&](const std::string& url) {
    if (!url.empty()) {
      DrainStep step;
      step.url = url; // as given: an @ in a --drain-url is the URL's own
      options.drain_steps.push_back(std::move(step));
    }
  };
  for (const CLI::Option* option : app->parse_order()) {
    if (option == drain_url && next_url < drain_urls.size()) {
      add_url_step(drain_urls[next_url++]);
    } else if (option == drain_step && next_step < step_texts.size()) {
      options.drain_steps.push_back(parse_drain_step(step_texts[next_step++]).value());
    }
  }
  for (; next_url < drain_urls.size(); ++next_url) {
    add_url_step(drain_urls[next_url]);
  }
  for (; next_step < step_texts.size(); ++next_step) {
    options.drain_steps.push_back(parse_drain_step(step_texts[next_step]).value());
  }
  for (const auto& step : options.drain_steps) {
    if (step.kind == DrainStepKind::url) {
      options.drain.drain_url = step.url;
      break;
    }
  }
  return std::nullopt;
}

} // namespace lameduck::cli

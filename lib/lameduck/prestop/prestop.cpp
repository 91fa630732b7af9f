#include "lameduck/prestop/prestop.hpp"

#include "lameduck/core/exit_code.hpp"
#include "lameduck/drain/drain_flags.hpp"
#include "lameduck/drain/quiet_wait.hpp"
#include "lameduck/drain/termination_id.hpp"
#include "lameduck/kube/endpoint_waiter.hpp"
#include "lameduck/kube/kube_event.hpp"
#include "lameduck/kube/kube_pod.hpp"
#include "lameduck/prestop/delivery_guard.hpp"
#include "lameduck/prestop/drain_steps.hpp"
#include "lameduck/prestop/phase_plan.hpp"
#include "lameduck/prestop/termination_report.hpp"
#include "lameduck/readiness/readiness_client.hpp"
#include "lameduck/registry/completion_notice.hpp"
#include "lameduck/registry/deregistration.hpp"

#include <future>
#include <iostream>
#include <memory>

namespace lameduck {

namespace {

// The pod GET only refines the deadline; it must not eat the budget of a hook with a dead API.
constexpr auto k_pod_read_budget = std::chrono::milliseconds{1000};
// Kept back from the drain for the report: writing it, and the Event when asked for.
constexpr auto k_report_reserve = std::chrono::milliseconds{250};
constexpr auto k_event_reserve = std::chrono::milliseconds{500};
// Kept back for the notification to the control plane: a few attempts of a loopback or
// in-cluster POST.
constexpr auto k_notify_reserve = std::chrono::milliseconds{1000};
// Kept back from the last calls to other systems: recording the result and exiting, which a
// loaded node (or a sanitized build's exit-time leak check) can stretch to tens of ms.
constexpr auto k_exit_reserve = std::chrono::milliseconds{250};

// The names these flags give to other systems are per pod ("services/agents/$(POD_NAME)"), and
// the kubelet expands no $(VAR) in a hook's command.
DeregistrationOptions expand_references_in(DeregistrationOptions options, const Environment& environment) {
  for (auto* names : {&options.etcd.keys, &options.etcd.lease_keys}) {
    for (auto& name : *names) {
      name = expand_references(name, environment);
    }
  }
  options.http.url = expand_references(options.http.url, environment);
  return options;
}

class Phase {
public:
  explicit Phase(std::string name) : m_started(Clock::now()) { m_result.phase = std::move(name); }
  PhaseResult end(PhaseOutcome outcome, std::string reason, LogFields details = LogFields::object()) {
    m_result.outcome = outcome;
    m_result.reason = std::move(reason);
    m_result.details = std::move(details);
    m_result.took = Clock::now() - m_started;
    return m_result;
  }
  Clock::time_point started() const { return m_started; }

private:
  Clock::time_point m_started;
  PhaseResult m_result;
};

class Prestop {
public:
  Prestop(const PrestopOptions& options, const Environment& environment, const Logger& logger,
          const TerminationClocks& started)
      : m_options(options), m_logger(logger), m_started(started),
        m_pod(resolve_pod_identity(options.pod, environment)),
        m_deregistration(expand_references_in(options.deregistration, environment)),
        m_notify_url(expand_references(options.notify_url, environment)), m_steps(drain_steps_of(options)) {
    auto config = resolve_kube_config({options.kube_api, options.kube_token_file, options.kube_ca_file}, environment);
    if (config) {
      m_kube = std::make_unique<KubeClient>(*config, logger);
    } else {
      m_no_api_reason = config.error().message;
    }
  }

  int run() {
    bool first_url = true;
    for (const auto& step : m_steps) {
      if (step.kind != DrainStepKind::url) {
        continue;
      }
      if (const auto drain = url_step_client(step, first_url, m_options.drain, {}); !drain) {
        m_logger.error("config.invalid", drain.error().message);
        return exit_code::k_usage;
      }
      first_url = false;
    }
    if (m_options.hold_until_drained && !m_options.plan) {
      return hold();
    }
    if (m_options.plan) {
      const TerminationDeadline deadline = fix_deadline();
      std::cout << describe_plan(plan_phases(deadline.budget, m_options), m_options, deadline.source);
      return exit_code::k_ok;
    }
    // Readiness off needs nothing from the API, so a slow or hung API server must not delay the
    // 503: it runs beside the pod GET, within a budget from the grace period alone (which a
    // deletionTimestamp can only shorten). Turning it off again on a repeated delivery is harmless.
    const TerminationDeadline by_grace = termination_deadline(m_started, m_options.grace_period, m_options.margin, {});
    auto readiness = std::async(std::launch::async, [this, by = by_grace.deadline.within(
                                                               plan_phases(by_grace.budget, m_options).readiness)] {
      return readiness_phase(by);
    });
    const TerminationDeadline deadline = fix_deadline();
    const PhasePlan plan = plan_phases(deadline.budget, m_options);
    const auto id = resolve_termination_id(m_options.termination_id, m_pod.uid, m_options.state_dir);
    if (!id) {
      m_logger.error("prestop.failed", "no termination id: " + id.error().message);
      return exit_code::k_gave_up;
    }
    auto guard = DeliveryGuard::acquire(m_options.state_dir, *id, deadline.deadline, [&] {
      m_logger.info("prestop.waiting", "another delivery of this hook is running; waiting for its result",
                    {{"termination_id", *id}});
    });
    if (!guard) {
      m_logger.error("prestop.failed", guard.error().message, {{"state_dir", m_options.state_dir}});
      return exit_code::k_gave_up;
    }
    if (guard->role() != DeliveryGuard::Role::first) {
      return answer_repeated_delivery(*guard);
    }
    m_logger.info("prestop.started", "stopping this pod without losing work",
                  {{"termination_id", *id}, {"budget_ms", to_ms(deadline.budget)}, {"deadline_from", deadline.source}});

    TerminationReport report;
    report.termination_id = *id;
    report.pod = m_pod.namespace_name + "/" + m_pod.name;
    report.deadline_source = deadline.source;
    report.budget = deadline.budget;
    const Deadline& end = deadline.deadline;
    report.phases.push_back(readiness.get());
    if (m_deregistration.configured()) {
      report.phases.push_back(deregister_phase(end.within(plan.deregister)));
    }
    report.phases.push_back(endpoints_phase(end.within(plan.endpoints), end));
    if (quiet_measured()) {
      report.phases.push_back(quiet_phase(end));
    }
    report.phases.push_back(drain_phase(Deadline::at(end.when() - report_reserve()), *id));
    report.took = Clock::now() - m_started.steady;

    write_report(report, {.termination_log = m_options.termination_log, .container_stdout = m_options.container_stdout}, m_logger);
    const Deadline calls_end = Deadline::at(end.when() - k_exit_reserve);
    if (m_options.event) {
      post_event(report, calls_end);
    }
    if (!m_notify_url.empty()) {
      notify(report, calls_end);
    }
    if (auto recorded = guard->record(report.to_json(true)); !recorded) {
      m_logger.warn("prestop.unrecorded", recorded.error().message + "; a later delivery will drain again");
    }
    return report.complete() ? exit_code::k_ok : exit_code::k_gave_up;
  }

private:
  // A sidecar's own preStop: it returns (and the kubelet stops the sidecar) only once the
  // agent's prestop has recorded its result in the shared state directory, or at its own
  // deadline. The grace period alone sets that deadline: the sidecar asks no API.
  int hold() {
    const TerminationDeadline deadline = termination_deadline(m_started, m_options.grace_period, m_options.margin, {});
    const auto id = resolve_termination_id(m_options.termination_id, m_pod.uid, m_options.state_dir);
    if (!id) {
      m_logger.error("hold.failed", "no termination id: " + id.error().message);
      return exit_code::k_gave_up;
    }
    m_logger.info("hold.started", "waiting until the agent's prestop has finished",
                  {{"termination_id", *id}, {"budget_ms", to_ms(deadline.budget)}, {"state_dir", m_options.state_dir}});
    const auto result = DeliveryGuard::wait_for_result(m_options.state_dir, *id,
                                                       Deadline::at(deadline.deadline.when() - k_exit_reserve));
    const auto waited = to_ms(Clock::now() - m_started.steady);
    if (!result) {
      m_logger.error("hold.failed", result.error().message, {{"state_dir", m_options.state_dir}});
      return exit_code::k_gave_up;
    }
    if (!*result) {
      m_logger.warn("hold.gave_up", "the agent's prestop had not finished at the deadline; stopping anyway",
                    {{"ms", waited}});
      return exit_code::k_gave_up;
    }
    m_logger.info("hold.done", "the agent's prestop has finished; this container may stop",
                  {{"ms", waited}, {"agent_outcome", (*result)->value("outcome", "")}});
    return exit_code::k_ok;
  }

  // start + grace - margin, or earlier when the pod's deletionTimestamp says so.
  TerminationDeadline fix_deadline() {
    std::optional<WallClock::time_point> deletion;
    if (m_kube && !m_pod.name.empty() && !m_pod.namespace_name.empty()) {
      const Deadline by = Deadline::at(m_started.steady + std::min<Duration>(k_pod_read_budget, m_options.grace_period / 4));
      if (const auto pod = read_own_pod(*m_kube, m_pod.namespace_name, m_pod.name, by)) {
        deletion = pod->deletion_timestamp;
        m_serving_ports = pod->serving_ports;
      } else {
        m_logger.warn("deadline.pod_unread", "cannot read the pod's deletionTimestamp; the grace period alone sets "
                                             "the deadline",
                      {{"reason", pod.error().message}});
      }
    }
    return termination_deadline(m_started, m_options.grace_period, m_options.margin, deletion);
  }

  // What the drain leaves for the report phase: the summary, and the calls it makes.
  Duration report_reserve() const {
    Duration reserve = k_report_reserve;
    if (m_options.event && m_kube) {
      reserve += k_event_reserve;
    }
    if (!m_notify_url.empty()) {
      reserve += k_notify_reserve;
    }
    return reserve;
  }

  int answer_repeated_delivery(const DeliveryGuard& guard) {
    const auto role = delivery_role_name(guard.role());
    if (!guard.earlier_result()) {
      m_logger.warn("prestop.repeated", "another delivery of this hook is still running at the deadline",
                    {{"role", role}});
      return exit_code::k_gave_up;
    }
    const auto& result = *guard.earlier_result();
    m_logger.info("prestop.repeated", "this termination was already handled; its result stands",
                  {{"role", role}, {"result", result}});
    return result.value("outcome", "") == "drained" ? exit_code::k_ok : exit_code::k_gave_up;
  }

  PhaseResult readiness_phase(const Deadline& deadline) {
    Phase phase("readiness");
    if (m_options.readyz_url.empty()) {
      return phase.end(PhaseOutcome::skipped, "no --readyz-url");
    }
    const auto url = parse_url(m_options.readyz_url);
    const auto state = url ? request_readiness_switch(*url, SwitchRequest::disable, "disabled by prestop", deadline)
                           : unexpected(url.error());
    if (!state) {
      m_logger.warn("phase.gave_up", state.error().message, {{"phase", "readiness"}});
      return phase.end(PhaseOutcome::gave_up, state.error().message);
    }
    m_logger.info("phase.done", "readiness off", {{"phase", "readiness"}});
    return phase.end(PhaseOutcome::done, "readiness off");
  }

  PhaseResult deregister_phase(const Deadline& deadline) {
    Phase phase("deregister");
    const DeregistrationResult result = deregister(m_deregistration, deadline, m_logger);
    if (!result.complete) {
      m_logger.warn("phase.gave_up", result.reason, {{"phase", "deregister"}});
      return phase.end(PhaseOutcome::gave_up, result.reason, result.details);
    }
    m_logger.info("phase.done", result.reason, {{"phase", "deregister"}, {"ms", to_ms(Clock::now() - phase.started())}});
    return phase.end(PhaseOutcome::done, result.reason, result.details);
  }

  PhaseResult endpoints_phase(const Deadline& watch_deadline, const Deadline& deadline) {
    Phase phase("endpoints");
    std::string why_fallback = m_no_api_reason;
    LogFields details = LogFields::object();
    if (m_kube && m_pod.namespace_name.empty()) {
      why_fallback = "the pod's namespace is unknown (POD_NAMESPACE, --pod-namespace)";
    } else if (m_kube) {
      const int before = m_kube->requests();
      const auto result = wait_until_endpoint_not_ready(
          *m_kube, {m_pod.namespace_name, m_options.services, {m_pod.uid, m_pod.ips}}, watch_deadline, m_logger);
      details = {{"verdict", endpoint_verdict_name(result.verdict)},
                 {"watchMs", to_ms(result.elapsed)},
                 {"requests", m_kube->requests() - before}};
      if (result.verdict == EndpointVerdict::not_ready) {
        // kube-proxy, ingress controllers and load balancers apply the change after this: wait
        // --min-delay for them, or let the quiet phase measure them with it as its floor.
        if (quiet_measured()) {
          m_quiet_floor = Clock::now() + m_options.min_delay;
        } else {
          sleep_within(m_options.min_delay, deadline);
        }
        m_logger.info("phase.done", result.reason, {{"phase", "endpoints"}, {"ms", to_ms(Clock::now() - phase.started())}});
        return phase.end(PhaseOutcome::done, result.reason, details);
      }
      why_fallback = result.reason;
    }
    // Without a verdict from the API, the guess it replaces: --fallback-delay from the
    // phase's start, within the deadline.
    m_logger.warn("endpoints.fallback", "waiting --fallback-delay instead: " + why_fallback,
                  {{"phase", "endpoints"}, {"fallback_ms", to_ms(m_options.fallback_delay)}});
    const auto until = phase.started() + m_options.fallback_delay;
    if (Clock::now() < until) {
      sleep_within(std::chrono::duration_cast<Duration>(until - Clock::now()), deadline);
    }
    details["fallbackMs"] = to_ms(m_options.fallback_delay);
    return phase.end(PhaseOutcome::gave_up, "fell back to --fallback-delay: " + why_fallback, details);
  }

  // --until-quiet is on; without ports to watch the phase still appears, to say why it did not run.
  bool quiet_measured() const { return m_options.until_quiet > Duration::zero(); }

  std::vector<int> quiet_ports() const { return m_options.quiet_ports.empty() ? m_serving_ports : m_options.quiet_ports; }

  PhaseResult quiet_phase(const Deadline& deadline) {
    Phase phase("quiet");
    const auto ports = quiet_ports();
    if (ports.empty()) {
      sleep_within(until(m_quiet_floor), deadline);
      return phase.end(PhaseOutcome::skipped, "no serving ports to watch: the pod declares no containerPorts and no "
                                              "--quiet-port was given; waited --min-delay alone");
    }
    // Its own cap, so that the drain keeps its share whatever the consumers do; never shorter
    // than the floor, which the phase replaces.
    const Duration left = Deadline::at(deadline.when() - report_reserve()).remaining();
    const Duration floor_left = until(m_quiet_floor);
    const Deadline cap = deadline.within(std::max(quiet_cap(left - floor_left, m_options) + floor_left, floor_left));
    const QuietOptions options{.quiet = m_options.until_quiet, .ports = ports, .local_addresses = m_pod.ips};
    const QuietResult result = wait_until_quiet(options, m_quiet_floor, cap, m_logger);

    LogFields details{{"verdict", quiet_verdict_name(result.verdict)},
                      {"quietMs", to_ms(m_options.until_quiet)},
                      {"ports", ports},
                      {"source", result.source},
                      {"newConnections", result.new_connections},
                      {"openConnections", result.open_connections}};
    // What was measured, so that a user sees which consumer was late: when the last new
    // connection and the last byte came (from the hook's start), and from which peer.
    std::string sightings;
    const auto describe = [&](const std::string& what, const std::string& field,
                              const std::optional<TrafficSighting>& sighting) {
      if (!sighting) {
        sightings += "; no " + what + " since the phase began";
        return;
      }
      const auto at = to_ms(sighting->at - m_started.steady);
      details[field + "Ms"] = at;
      details[field + "From"] = sighting->peer;
      sightings += "; last " + what + " at +" + std::to_string(at) + " ms from " + sighting->peer;
    };
    describe("new connection", "lastConnection", result.last_connection);
    describe("byte", "lastByte", result.last_bytes);

    const LogFields log_fields{{"phase", "quiet"}, {"ms", to_ms(Clock::now() - phase.started())}, {"details", details}};
    switch (result.verdict) {
    case QuietVerdict::quiet:
      m_logger.info("phase.done", result.reason + sightings, log_fields);
      return phase.end(PhaseOutcome::done, result.reason + sightings, details);
    case QuietVerdict::busy: {
      const std::string reason = "consumers still sending at the phase's cap; the drain keeps its share" + sightings;
      m_logger.warn("phase.gave_up", reason, log_fields);
      return phase.end(PhaseOutcome::gave_up, reason, details);
    }
    case QuietVerdict::unreadable:
      break;
    }
    // Nothing measured: the guess it replaces, --min-delay.
    sleep_within(until(m_quiet_floor), cap);
    const std::string reason = result.reason + "; waited --min-delay alone";
    m_logger.warn("phase.gave_up", reason, log_fields);
    return phase.end(PhaseOutcome::gave_up, reason, details);
  }

  static Duration until(Clock::time_point when) {
    return std::chrono::duration_cast<Duration>(std::max(when - Clock::now(), Clock::duration::zero()));
  }

  PhaseResult drain_phase(const Deadline& deadline, const std::string& termination_id) {
    Phase phase("drain");
    if (m_steps.empty()) {
      return phase.end(PhaseOutcome::skipped, "no --drain-url or --drain-step");
    }
    const DrainPhaseOutcome result = run_drain_steps(m_steps, m_options.drain, termination_id, deadline, m_logger);
    const LogFields log_fields{{"phase", "drain"}, {"ms", to_ms(Clock::now() - phase.started())}};
    if (result.outcome == PhaseOutcome::gave_up) {
      m_logger.warn("phase.gave_up", result.reason, log_fields);
    } else if (result.outcome == PhaseOutcome::done) {
      m_logger.info("phase.done", result.reason, log_fields);
    }
    return phase.end(result.outcome, result.reason, result.details);
  }

  void post_event(const TerminationReport& report, const Deadline& deadline) {
    if (!m_kube) {
      m_logger.warn("event.skipped", "--event needs the Kubernetes API: " + m_no_api_reason);
      return;
    }
    std::string message = report.complete() ? "drained in " : "gave up after ";
    message += std::to_string(to_ms(report.took)) + " ms:";
    for (const auto& phase : report.phases) {
      message += " " + phase.phase + " " + std::string(phase_outcome_name(phase.outcome)) + " (" +
                 std::to_string(to_ms(phase.took)) + " ms)";
    }
    if (const auto posted = post_pod_event(*m_kube, m_pod, report.complete(), message, deadline); !posted) {
      m_logger.warn("event.failed", posted.error().message);
    }
  }

  void notify(const TerminationReport& report, const Deadline& deadline) {
    const CompletionNotice notice{.url = m_notify_url,
                                  .termination_id = report.termination_id,
                                  .summary_json = report.to_json(true).dump()};
    if (const auto sent = send_completion_notice(notice, deadline, m_logger); !sent) {
      m_logger.warn("notify.failed", sent.error().message);
    } else {
      m_logger.info("notify.done", "the control plane has the summary", {{"status", *sent}});
    }
  }

  const PrestopOptions& m_options;
  const Logger& m_logger;
  TerminationClocks m_started;
  PodIdentity m_pod;
  DeregistrationOptions m_deregistration;
  std::string m_notify_url;
  std::vector<DrainStep> m_steps;          // the drain phase, in order
  std::unique_ptr<KubeClient> m_kube;
  std::string m_no_api_reason;
  std::vector<int> m_serving_ports;        // from the pod's spec, when the API could be read
  Clock::time_point m_quiet_floor{};       // the quiet phase ends no earlier than this
};

} // namespace

int run_prestop(const PrestopOptions& options, const Environment& environment, const Logger& logger,
                const TerminationClocks& started) {
  return Prestop(options, environment, logger, started).run();
}

} // namespace lameduck

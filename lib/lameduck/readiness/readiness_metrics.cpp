#include "lameduck/readiness/readiness_metrics.hpp"

namespace lameduck {

void ReadinessMetrics::count_probe(int status) {
  std::size_t slot = k_codes.size();
  for (std::size_t i = 0; i < k_codes.size(); ++i) {
    if (k_codes[i] == status) {
      slot = i;
    }
  }
  m_probes[slot].fetch_add(1, std::memory_order_relaxed);
}

void ReadinessMetrics::count_transition(bool to_ready) {
  (to_ready ? m_to_ready : m_to_not_ready).fetch_add(1, std::memory_order_relaxed);
}

std::string ReadinessMetrics::render(bool ready) const {
  std::string out;
  const auto family = [&out](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const auto sample = [&out](const std::string& series, std::uint64_t value) {
    out += series + " " + std::to_string(value) + "\n";
  };

  family("lameduck_ready", "gauge", "Whether /readyz currently reports this pod ready by its switch (1) or not (0).");
  sample("lameduck_ready", ready ? 1 : 0);

  family("lameduck_readyz_requests_total", "counter", "Answers of /readyz, by HTTP status code.");
  for (std::size_t i = 0; i < k_codes.size(); ++i) {
    sample("lameduck_readyz_requests_total{code=\"" + std::to_string(k_codes[i]) + "\"}",
           m_probes[i].load(std::memory_order_relaxed));
  }
  sample("lameduck_readyz_requests_total{code=\"other\"}", m_probes[k_codes.size()].load(std::memory_order_relaxed));

  family("lameduck_readiness_transitions_total", "counter", "Flips of the readiness switch, by the state flipped to.");
  sample("lameduck_readiness_transitions_total{to=\"ready\"}", m_to_ready.load(std::memory_order_relaxed));
  sample("lameduck_readiness_transitions_total{to=\"not_ready\"}", m_to_not_ready.load(std::memory_order_relaxed));

  family("lameduck_upstream_failures_total", "counter",
         "Readiness probes answered 503 because the upstream failed or did not answer in time.");
  sample("lameduck_upstream_failures_total", m_upstream_failures.load(std::memory_order_relaxed));
  return out;
}

} // namespace lameduck

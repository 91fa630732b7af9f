#pragma once

// The counters readyz-toggle exposes on /metrics, in the Prometheus text exposition format
// (version 0.0.4), so a rollout's dashboards can show when each pod left its Services.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace lameduck {

class ReadinessMetrics {
public:
  // Counts one answer of /readyz by its status code.
  void count_probe(int status);
  void count_transition(bool to_ready);
  void count_upstream_failure() { m_upstream_failures.fetch_add(1, std::memory_order_relaxed); }

  std::string render(bool ready) const;

private:
  // The codes /readyz can answer; anything else is counted as "other".
  static constexpr std::array<int, 2> k_codes{200, 503};
  std::array<std::atomic<std::uint64_t>, k_codes.size() + 1> m_probes{};
  std::atomic<std::uint64_t> m_to_ready{0};
  std::atomic<std::uint64_t> m_to_not_ready{0};
  std::atomic<std::uint64_t> m_upstream_failures{0};
};

inline constexpr const char* k_metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace lameduck

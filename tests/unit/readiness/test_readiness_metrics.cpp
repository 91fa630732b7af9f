#include "lameduck/readiness/readiness_metrics.hpp"

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using lameduck::ReadinessMetrics;

namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("ReadinessMetrics") {
  ReadinessMetrics metrics;
  metrics.count_probe(200);
  metrics.count_probe(200);
  metrics.count_probe(503);
  metrics.count_probe(404);
  metrics.count_transition(false);
  metrics.count_upstream_failure();
  const std::string text = metrics.render(false);

  CHECK(contains_line(text, "lameduck_ready 0"));
  CHECK(contains_line(metrics.render(true), "lameduck_ready 1"));
  CHECK(contains_line(text, R"(lameduck_readyz_requests_total{code="200"} 2)"));
  CHECK(contains_line(text, R"(lameduck_readyz_requests_total{code="503"} 1)"));
  CHECK(contains_line(text, R"(lameduck_readyz_requests_total{code="other"} 1)"));
  CHECK(contains_line(text, R"(lameduck_readiness_transitions_total{to="not_ready"} 1)"));
  CHECK(contains_line(text, R"(lameduck_readiness_transitions_total{to="ready"} 0)"));
  CHECK(contains_line(text, "lameduck_upstream_failures_total 1"));

  SUBCASE("every sample's family has its HELP and TYPE lines first, once") {
    std::set<std::string> described;
    std::set<std::string> typed;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      CAPTURE(line);
      std::istringstream words(line);
      std::string first;
      std::string second;
      words >> first >> second;
      if (first == "#") {
        std::string name;
        words >> name;
        auto& seen = second == "HELP" ? described : typed;
        CHECK(seen.insert(name).second);
        continue;
      }
      const std::string family = first.substr(0, first.find('{'));
      CHECK(described.count(family) == 1);
      CHECK(typed.count(family) == 1);
    }
  }
}

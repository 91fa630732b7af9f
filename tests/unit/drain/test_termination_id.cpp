#include "lameduck/drain/termination_id.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <future>
#include <vector>

using lameduck::resolve_termination_id;
using lameduck::test::TempDir;

TEST_CASE("resolve_termination_id") {
  const TempDir dir;
  SUBCASE("the flag wins, then POD_UID") {
    CHECK(resolve_termination_id("flag-id", "pod-uid", dir.path()).value() == "flag-id");
    CHECK(resolve_termination_id("", "pod-uid", dir.path()).value() == "pod-uid");
  }
  SUBCASE("without either, one random id per state directory, also for deliveries racing") {
    std::vector<std::future<std::string>> deliveries;
    for (int i = 0; i < 8; ++i) {
      deliveries.push_back(std::async(std::launch::async, [&dir] {
        return resolve_termination_id("", "", dir.file("state")).value();
      }));
    }
    const std::string first = deliveries.front().get();
    CHECK(first.size() == 32);
    for (std::size_t i = 1; i < deliveries.size(); ++i) {
      CHECK(deliveries[i].get() == first);
    }
    const TempDir other;
    CHECK(resolve_termination_id("", "", other.path()).value() != first);
  }
  SUBCASE("a state directory that cannot be created is an error naming it") {
    const auto id = resolve_termination_id("", "", "/proc/no-such-place");
    REQUIRE_FALSE(id);
    CHECK(id.error().message.find("/proc/no-such-place") != std::string::npos);
  }
}

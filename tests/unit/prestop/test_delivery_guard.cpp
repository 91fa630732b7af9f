#include "lameduck/prestop/delivery_guard.hpp"

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <future>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Deadline;
using lameduck::DeliveryGuard;

namespace {

struct StateDir {
  StateDir() : path(std::filesystem::temp_directory_path() / ("lameduck-guard-" + std::to_string(::getpid()))) {}
  ~StateDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

} // namespace

TEST_CASE("DeliveryGuard") {
  StateDir state;
  const nlohmann::json result{{"outcome", "drained"}};

  SUBCASE("the first delivery does the work; a later one gets its result") {
    auto first = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value();
    CHECK(first.role() == DeliveryGuard::Role::first);
    REQUIRE(first.record(result));
    const auto later = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value();
    CHECK(later.role() == DeliveryGuard::Role::repeated);
    CHECK(later.earlier_result() == result);
  }
  SUBCASE("a concurrent delivery waits for the first one's result") {
    auto first = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value();
    std::promise<void> waiting;
    auto second = std::async(std::launch::async, [&] {
      auto guard = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(10s), [&] { waiting.set_value(); }).value();
      return std::pair{std::move(guard), lameduck::Clock::now()};
    });
    // Record only once the second delivery is waiting: recorded earlier, it would be a repeat.
    REQUIRE(waiting.get_future().wait_for(10s) == std::future_status::ready);
    const auto recorded_at = lameduck::Clock::now();
    REQUIRE(first.record(result));
    const auto [waited, returned_at] = second.get();
    CHECK(waited.role() == DeliveryGuard::Role::waited);
    CHECK(waited.earlier_result() == result);
    CHECK(returned_at >= recorded_at); // it came back only once there was a result
  }
  SUBCASE("when the first delivery dies without a result, the waiting one takes over") {
    auto first = std::make_unique<DeliveryGuard>(DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value());
    std::promise<void> waiting;
    auto second = std::async(std::launch::async, [&] {
      auto guard = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(10s), [&] { waiting.set_value(); }).value();
      return std::pair{std::move(guard), lameduck::Clock::now()};
    });
    REQUIRE(waiting.get_future().wait_for(10s) == std::future_status::ready);
    const auto died_at = lameduck::Clock::now();
    first.reset();
    const auto [taken_over, returned_at] = second.get();
    CHECK(taken_over.role() == DeliveryGuard::Role::first);
    CHECK(returned_at >= died_at); // it came back only once the first delivery was gone
  }
  SUBCASE("waiting is bounded by the deadline") {
    const auto first = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value();
    const auto started = lameduck::Clock::now();
    const auto second = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(200ms)).value();
    CHECK(second.role() == DeliveryGuard::Role::timed_out);
    CHECK(lameduck::Clock::now() - started < 200ms + k_scheduling_slack);
  }
  SUBCASE("different termination ids do not wait for each other") {
    const auto one = DeliveryGuard::acquire(state.path, "uid-1", Deadline::after(1s)).value();
    const auto other = DeliveryGuard::acquire(state.path, "uid-2", Deadline::after(1s)).value();
    CHECK(other.role() == DeliveryGuard::Role::first);
  }
  SUBCASE("ids are made safe for file names") {
    auto guard = DeliveryGuard::acquire(state.path, "../../etc/passwd", Deadline::after(1s)).value();
    REQUIRE(guard.record(result));
    CHECK(std::filesystem::exists(state.path / "id.._.._etc_passwd.result.json"));
  }
  SUBCASE("a state directory that cannot be made is an error naming it") {
    const auto guard = DeliveryGuard::acquire("/proc/no-such/dir", "uid-1", Deadline::after(1s));
    REQUIRE_FALSE(guard);
    CHECK(guard.error().message.rfind("cannot create the state directory /proc/no-such/dir: ", 0) == 0);
  }
}

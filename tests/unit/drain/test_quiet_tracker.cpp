#include "lameduck/drain/quiet_tracker.hpp"

#include <doctest/doctest.h>

using lameduck::Clock;
using lameduck::QuietTracker;
using lameduck::TcpSocketReading;
using namespace std::chrono_literals;

namespace {

constexpr int k_established = 1;
constexpr int k_time_wait = 6;
constexpr int k_listen = 10;

TcpSocketReading socket(std::uint64_t cookie, const std::string& peer, int state, std::uint64_t bytes) {
  return {.cookie = cookie, .local_address = "10.0.3.52", .local_port = 8080, .peer_address = peer,
          .peer_port = 40000 + static_cast<int>(cookie), .state = state, .bytes_received = bytes};
}

} // namespace

TEST_CASE("QuietTracker") {
  const auto t0 = Clock::now();
  QuietTracker tracker({"10.0.3.52"});
  const auto listener = socket(1, "0.0.0.0", k_listen, 0);

  SUBCASE("the first reading is the baseline") {
    tracker.observe({listener, socket(2, "10.0.0.7", k_established, 500)}, t0);
    CHECK_FALSE(tracker.last_connection());
    CHECK_FALSE(tracker.last_bytes());
    CHECK(tracker.last_traffic() == t0);
    CHECK(tracker.open_connections() == 1);
  }
  SUBCASE("a request on a kept-alive connection is traffic; the same count again is not") {
    tracker.observe({listener, socket(2, "10.0.0.7", k_established, 500)}, t0);
    tracker.observe({listener, socket(2, "10.0.0.7", k_established, 700)}, t0 + 100ms);
    REQUIRE(tracker.last_bytes());
    CHECK(tracker.last_bytes()->at == t0 + 100ms);
    CHECK(tracker.last_bytes()->peer == "10.0.0.7:40002");
    CHECK_FALSE(tracker.last_connection());
    tracker.observe({listener, socket(2, "10.0.0.7", k_established, 700)}, t0 + 200ms);
    CHECK(tracker.last_traffic() == t0 + 100ms);
  }
  SUBCASE("a new connection is traffic, even one already in TIME_WAIT") {
    tracker.observe({listener}, t0);
    tracker.observe({listener, socket(3, "10.0.0.9", k_time_wait, 120)}, t0 + 50ms);
    REQUIRE(tracker.last_connection());
    CHECK(tracker.last_connection()->peer == "10.0.0.9:40003");
    CHECK(tracker.last_connection()->at == t0 + 50ms);
    CHECK(tracker.last_bytes()->at == t0 + 50ms);
    CHECK(tracker.new_connections() == 1);
    CHECK(tracker.open_connections() == 0);
    // The same socket in the next reading is not new again.
    tracker.observe({listener, socket(3, "10.0.0.9", k_time_wait, 120)}, t0 + 100ms);
    CHECK(tracker.new_connections() == 1);
    CHECK(tracker.last_traffic() == t0 + 50ms);
  }
  SUBCASE("listeners and other addresses (the pod's own loopback) never count") {
    tracker.observe({listener}, t0);
    auto own = socket(4, "127.0.0.1", k_established, 10);
    own.local_address = "127.0.0.1";
    tracker.observe({listener, own, socket(1, "0.0.0.0", k_listen, 0)}, t0 + 50ms);
    CHECK_FALSE(tracker.last_connection());
    CHECK(tracker.last_traffic() == t0);
  }
  SUBCASE("without cookies (/proc/net/tcp), a connection is its addresses; bytes are unknown") {
    auto first = socket(0, "10.0.0.7", k_established, 0);
    first.cookie.reset();
    first.bytes_received.reset();
    tracker.observe({}, t0);
    tracker.observe({first}, t0 + 50ms);
    CHECK(tracker.new_connections() == 1);
    tracker.observe({first}, t0 + 100ms);
    CHECK(tracker.new_connections() == 1);
    CHECK_FALSE(tracker.last_bytes());
    // Gone, then the same address pair again: a new connection.
    tracker.observe({}, t0 + 150ms);
    tracker.observe({first}, t0 + 200ms);
    CHECK(tracker.new_connections() == 2);
    CHECK(tracker.last_traffic() == t0 + 200ms);
  }
  SUBCASE("no address filter: any local address counts; IPv6 peers are bracketed") {
    QuietTracker any;
    any.observe({}, t0);
    auto six = socket(5, "fd00::7", k_established, 1);
    six.local_address = "::1";
    any.observe({six}, t0 + 10ms);
    REQUIRE(any.last_connection());
    CHECK(any.last_connection()->peer == "[fd00::7]:40005");
  }
}

#include "lameduck/core/loopback.hpp"

#include <doctest/doctest.h>

using lameduck::is_loopback_address;

TEST_CASE("is_loopback_address") {
  SUBCASE("the whole of 127.0.0.0/8 and ::1") {
    CHECK(is_loopback_address("127.0.0.1"));
    CHECK(is_loopback_address("127.255.3.4"));
    CHECK(is_loopback_address("::1"));
    CHECK(is_loopback_address("[::1]"));
    CHECK(is_loopback_address("0:0:0:0:0:0:0:1"));
  }
  SUBCASE("IPv4 loopback seen through a dual-stack socket") {
    CHECK(is_loopback_address("::ffff:127.0.0.1"));
    CHECK_FALSE(is_loopback_address("::ffff:10.0.3.52"));
  }
  SUBCASE("everything else is not") {
    CHECK_FALSE(is_loopback_address("10.0.3.52"));
    CHECK_FALSE(is_loopback_address("128.0.0.1"));
    CHECK_FALSE(is_loopback_address("0.0.0.0"));
    CHECK_FALSE(is_loopback_address("::"));
    CHECK_FALSE(is_loopback_address("fd00:10:0:3::52"));
    CHECK_FALSE(is_loopback_address("fe80::1%lo"));
    CHECK_FALSE(is_loopback_address("localhost"));
    CHECK_FALSE(is_loopback_address(""));
    CHECK_FALSE(is_loopback_address("127.0.0.1.evil"));
  }
}

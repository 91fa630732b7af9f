#include "lameduck/state/redis_url.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using lameduck::parse_redis_url;

TEST_CASE("redis URLs: what a checkpoint store is configured with") {
  SUBCASE("the defaults") {
    const auto url = parse_redis_url("redis://redis.state.svc").value();
    CHECK(url.host == "redis.state.svc");
    CHECK(url.port == 6379);
    CHECK(url.database == 0);
    CHECK(url.prefix == "lameduck:");
    CHECK(url.text() == "redis://redis.state.svc:6379/0");
  }
  SUBCASE("everything given") {
    const auto url =
        parse_redis_url("redis://agent@10.0.0.7:6380/3?password-file=/var/run/secrets/redis/password&prefix={ld}:")
            .value();
    CHECK(url.user == "agent");
    CHECK(url.host == "10.0.0.7");
    CHECK(url.port == 6380);
    CHECK(url.database == 3);
    CHECK(url.password_file == "/var/run/secrets/redis/password");
    CHECK(url.prefix == "{ld}:");
    CHECK(url.text() == "redis://agent@10.0.0.7:6380/3"); // never the password file's path
  }
  SUBCASE("an IPv6 address") {
    const auto url = parse_redis_url("redis://[fd00::7]:6390/1").value();
    CHECK(url.host == "fd00::7");
    CHECK(url.port == 6390);
    CHECK(url.text() == "redis://[fd00::7]:6390/1");
    CHECK(parse_redis_url("redis://[fe80::1%eth0]").value().text() == "redis://[fe80::1%eth0]:6379/0");
  }
  SUBCASE("refused, each saying why") {
    const std::vector<std::pair<std::string, std::string>> refused{
        {"redis://user:hunter2@host", "password-file"},
        {"rediss://host:6380", "TLS"},
        {"http://host", "not a redis:// URL"},
        {"redis://", "no host"},
        {"redis://host:0", "the port"},
        {"redis://host:99999", "the port"},
        {"redis://host:63x9", "the port"},
        {"redis://host/16", "the database"},
        {"redis://host/db", "the database"},
        {"redis://[fd00::7", "closing bracket"},
        {"redis://x]:6390/", "not a host"},
        {"redis://[fd00::7]]:6390", "junk after the IPv6 host"},
        {"redis://[%%%%%%%7]:2780/1", "not a host"}, // brackets hold an IPv6 address, or it prints back unbracketed
        {"redis://[redis]:6390", "not a host"},
        {"redis://[fe80::1%e th0]", "not a host"},
        {"redis://ho st:6379", "not a host"},
        {"redis://a/b@host", "the database"},
        {"redis://us er@host", "not a user name"},
        {"redis://host?timeout=5", "unknown redis:// URL parameter"},
        {"redis://host?password-file=", "unknown redis:// URL parameter"},
    };
    for (const auto& [text, reason] : refused) {
      CAPTURE(text);
      const auto parsed = parse_redis_url(text);
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().message.find(reason) != std::string::npos);
    }
  }
}

#include "lameduck/core/url.hpp"

#include <doctest/doctest.h>

using lameduck::parse_url;

TEST_CASE("parse_url") {
  SUBCASE("host, port and target") {
    const auto url = parse_url("http://127.0.0.1:7979/readyz/disable").value();
    CHECK(url.scheme == "http");
    CHECK(url.host == "127.0.0.1");
    CHECK(url.port == 7979);
    CHECK(url.target == "/readyz/disable");
    CHECK(url.origin() == "http://127.0.0.1:7979");
  }
  SUBCASE("default ports and target") {
    CHECK(parse_url("http://localhost").value().port == 80);
    CHECK(parse_url("https://kubernetes.default.svc").value().port == 443);
    CHECK(parse_url("http://localhost").value().target == "/");
    CHECK(parse_url("http://localhost?x=1").value().target == "/?x=1");
    CHECK(parse_url("http://localhost/a#frag").value().target == "/a");
  }
  SUBCASE("IPv6 hosts in brackets") {
    const auto url = parse_url("https://[fd00::1]:6443/api").value();
    CHECK(url.host == "fd00::1");
    CHECK(url.port == 6443);
    CHECK(url.origin() == "https://[fd00::1]:6443");
  }
  SUBCASE("errors name what is wrong") {
    CHECK(parse_url("127.0.0.1:7979").error().message ==
          "invalid URL \"127.0.0.1:7979\": expected http://host[:port]/path");
    CHECK(parse_url("ftp://x").error().message == "invalid URL \"ftp://x\": the scheme must be http or https");
    CHECK(parse_url("http://:80/").error().message == "invalid URL \"http://:80/\": the host is missing");
    CHECK(parse_url("http://x:99999").error().message ==
          "invalid URL \"http://x:99999\": the port must be a number from 1 to 65535");
    CHECK(parse_url("http://fd00::1/").error().message ==
          "invalid URL \"http://fd00::1/\": write IPv6 hosts in brackets, like http://[::1]:7979");
    CHECK_FALSE(parse_url("http://[::1/"));
    CHECK_FALSE(parse_url("http://user:pw@host/"));
    CHECK_FALSE(parse_url("http://x:8o/"));
  }
}

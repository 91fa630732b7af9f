#include "lameduck/http/http_request_head.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <string>

using lameduck::HttpHeadIncomplete;
using lameduck::HttpHeadRefusal;
using lameduck::HttpRequestHead;
using lameduck::parse_request_head;

namespace {

HttpRequestHead parsed(std::string_view bytes) {
  const auto result = parse_request_head(bytes);
  REQUIRE(std::holds_alternative<HttpRequestHead>(result));
  return std::get<HttpRequestHead>(result);
}

HttpHeadRefusal refused(std::string_view bytes, std::size_t max_head_bytes = lameduck::k_max_request_head_bytes) {
  const auto result = parse_request_head(bytes, max_head_bytes);
  REQUIRE(std::holds_alternative<HttpHeadRefusal>(result));
  return std::get<HttpHeadRefusal>(result);
}

bool incomplete(std::string_view bytes) {
  return std::holds_alternative<HttpHeadIncomplete>(parse_request_head(bytes));
}

} // namespace

TEST_CASE("parse_request_head") {
  SUBCASE("the kubelet's probe") {
    const std::string probe = "GET /readyz?verbose HTTP/1.1\r\nHost: 10.0.0.7:7979\r\nUser-Agent: kube-probe/1.32\r\n"
                              "Accept: */*\r\nConnection: close\r\n\r\n";
    const std::string bytes = probe + "next";
    const auto head = parsed(bytes);
    CHECK(head.method == "GET");
    CHECK(head.target == "/readyz?verbose");
    CHECK(head.path == "/readyz");
    CHECK_FALSE(head.http_1_0);
    CHECK_FALSE(head.keep_alive);
    CHECK(head.content_length == 0);
    CHECK(head.head_bytes == probe.size());
  }
  SUBCASE("HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked") {
    CHECK(parsed("GET / HTTP/1.1\r\n\r\n").keep_alive);
    CHECK_FALSE(parsed("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n").keep_alive);
    CHECK_FALSE(parsed("GET / HTTP/1.0\r\n\r\n").keep_alive);
    CHECK(parsed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    CHECK(parsed("GET / HTTP/1.0\r\n\r\n").http_1_0);
  }
  SUBCASE("a POST without Content-Length has an empty body (RFC 9112 section 6.3)") {
    const auto head = parsed("POST /readyz/disable HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(head.method == "POST");
    CHECK(head.content_length == 0);
  }
  SUBCASE("Content-Length, once or repeated with the same value") {
    CHECK(parsed("POST / HTTP/1.1\r\ncontent-length: 31\r\n\r\n").content_length == 31);
    CHECK(parsed("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:5 \r\n\r\n").content_length == 5);
    CHECK(parsed("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").content_length ==
          std::numeric_limits<std::size_t>::max());
    CHECK(refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").reason ==
          "two different Content-Length headers");
    CHECK(refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").reason == "Content-Length is not a number");
    CHECK(refused("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n").status == 400);
  }
  SUBCASE("a chunked body is refused with 411, not misread") {
    const auto refusal = refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(refusal.status == 411);
    CHECK(refusal.reason == "send the body with a Content-Length");
  }
  SUBCASE("bare LF line ends, and empty lines before the request line") {
    const auto head = parsed("\r\n\nGET /livez HTTP/1.1\nHost: x\n\n");
    CHECK(head.path == "/livez");
    CHECK(head.head_bytes == 32);
  }
  SUBCASE("not complete yet") {
    CHECK(incomplete(""));
    CHECK(incomplete("GE"));
    CHECK(incomplete("GET /readyz HTTP/1.1\r\nHost: x\r\n"));
    CHECK(incomplete("GET /readyz HTTP/1.1\r\nHost: x\r\n\r"));
  }
  SUBCASE("garbage is refused from its first bytes, before any line ends") {
    const auto refusal = refused("\x16\x03\x01\x02");
    CHECK(refusal.status == 400);
    CHECK(refusal.reason == "this is not an HTTP request");
    CHECK(refused("GET\x01").status == 400);
  }
  SUBCASE("a head past the limit is refused with 431, complete or not") {
    CHECK(refused("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), 64).status == 431);
    CHECK(refused("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 64).status == 431);
    CHECK(parsed("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n").path == "/");
  }
  SUBCASE("request lines that are not METHOD TARGET HTTP/1.x") {
    CHECK(refused("GET /\r\n\r\n").reason == "the request line is not METHOD TARGET HTTP/1.x");
    CHECK(refused("GET  / HTTP/1.1\r\n\r\n").status == 400);
    CHECK(refused("GET / HTTP/1.1 extra\r\n\r\n").status == 400);
    CHECK(refused("G(T / HTTP/1.1\r\n\r\n").status == 400);
    CHECK(refused("GET / HTTP/1.12\r\n\r\n").status == 400);
    CHECK(refused("GET / http/1.1\r\n\r\n").status == 400);
    const auto version = refused("GET / HTTP/2.0\r\n\r\n");
    CHECK(version.status == 505);
    CHECK(version.reason == "only HTTP/1.0 and HTTP/1.1 are served");
  }
  SUBCASE("header lines that are not NAME: VALUE") {
    CHECK(refused("GET / HTTP/1.1\r\nHost x\r\n\r\n").reason == "a header line is not NAME: VALUE");
    CHECK(refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n").status == 400);
    CHECK(refused("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n").reason == "obsolete line folding in a header");
    CHECK(refused("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n").reason == "a header holds a control character");
    CHECK(refused("GET /\x7f HTTP/1.1\r\n\r\n").reason == "the request line holds a control character");
    CHECK(parsed("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n").path == "/");
  }
}

// What the etcd client makes of what its members say; the calls themselves are tested against
// a real etcd in tests/integration/test_deregistration.cpp.

#include "lameduck/registry/etcd_client.hpp"

#include "support/http_test_server.hpp"
#include "support/quiet_logger.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <vector>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::test::HttpTestServer;
using lameduck::test::k_quiet;

TEST_CASE("lease ids as etcd and etcdctl write them") {
  CHECK(lameduck::parse_lease_id("7587874113462009093") == 7587874113462009093);
  CHECK(lameduck::parse_lease_id("694d7b7b8f5c0a2e") == 0x694d7b7b8f5c0a2e);
  CHECK(lameduck::parse_lease_id("0x10") == 16);
  CHECK_FALSE(lameduck::parse_lease_id(""));
  CHECK_FALSE(lameduck::parse_lease_id("0"));
  CHECK_FALSE(lameduck::parse_lease_id("10.0.0.7:8080"));
  CHECK_FALSE(lameduck::parse_lease_id("ffffffffffffffff")); // beyond int64
}

TEST_CASE("the etcd client against members that misbehave") {
  std::string range_answer;
  int range_status = 200;
  HttpTestServer member([&](httplib::Server& server) {
    server.Post("/v3/kv/range", [&](const httplib::Request&, httplib::Response& response) {
      response.status = range_status;
      response.set_content(range_answer, "application/json");
    });
  });
  lameduck::EtcdClient etcd({.endpoints = {lameduck::parse_url(member.url()).value()}}, k_quiet);

  SUBCASE("a key attached to a lease names that lease") {
    range_answer = R"({"kvs":[{"key":"a2V5","value":"MTAuMC4wLjc=","lease":"42"}],"count":"1"})";
    CHECK(etcd.lease_at("key", Deadline::after(2s)).value() == 42);
  }
  SUBCASE("a key without a lease names it in its value") {
    range_answer = R"({"kvs":[{"key":"a2V5","value":"Njk0ZDdiN2I4ZjVjMGEyZQ=="}]})"; // "694d7b7b8f5c0a2e"
    CHECK(etcd.lease_at("key", Deadline::after(2s)).value() == 0x694d7b7b8f5c0a2e);
  }
  SUBCASE("a key that is gone names no lease") {
    range_answer = R"({"header":{"revision":"7"}})";
    CHECK_FALSE(etcd.lease_at("key", Deadline::after(2s)).value().has_value());
  }
  SUBCASE("a value that is no lease id is an error naming the key") {
    range_answer = R"({"kvs":[{"key":"a2V5","value":"MTAuMC4wLjc="}]})"; // "10.0.0.7"
    const auto lease = etcd.lease_at("key", Deadline::after(2s));
    REQUIRE_FALSE(lease);
    CHECK(lease.error().message.find("\"key\"") != std::string::npos);
  }
  SUBCASE("garbage is an error, not a crash") {
    range_answer = "{\"kvs\":[{\"lease\":";
    CHECK_FALSE(etcd.lease_at("key", Deadline::after(2s)));
    range_answer = R"({"kvs":"no"})";
    CHECK_FALSE(etcd.lease_at("key", Deadline::after(2s)).value().has_value());
  }
  SUBCASE("a 404 that is not etcd's NotFound is not taken for a deleted key") {
    range_status = 404;
    range_answer = "404 page not found";
    CHECK_FALSE(etcd.lease_at("key", Deadline::after(2s)));
  }
}

TEST_CASE("the etcd client's authentication") {
  std::mutex mutex;
  int tokens_issued = 0;
  bool auth_enabled = true;
  int refuse_with = 0;  // the status the member refuses the password with, 0 for none
  int authentications = 0;
  std::vector<std::string> authorizations; // the Authorization header of each delete
  HttpTestServer member([&](httplib::Server& server) {
    server.Post("/v3/auth/authenticate", [&](const httplib::Request&, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      ++authentications;
      if (refuse_with != 0) {
        response.status = refuse_with;
        response.set_content(R"({"message":"etcdserver: authentication failed, invalid user ID or password","code":3})",
                             "application/json");
        return;
      }
      if (!auth_enabled) {
        response.status = 400;
        response.set_content(R"({"message":"etcdserver: authentication is not enabled","code":9})", "application/json");
        return;
      }
      response.set_content(R"({"token":"token-)" + std::to_string(++tokens_issued) + R"("})", "application/json");
    });
    server.Post("/v3/kv/deleterange", [&](const httplib::Request& request, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      authorizations.push_back(request.get_header_value("Authorization"));
      if (auth_enabled && request.get_header_value("Authorization") != "token-" + std::to_string(tokens_issued)) {
        response.status = 401;
        response.set_content(R"({"message":"etcdserver: invalid auth token","code":16})", "application/json");
        return;
      }
      response.set_content(R"({"deleted":"1"})", "application/json");
    });
  });
  lameduck::EtcdClient etcd({.endpoints = {lameduck::parse_url(member.url()).value()}, .user = "root", .password = "pw"},
                            k_quiet);

  SUBCASE("the token goes bare in Authorization") {
    CHECK(etcd.delete_key("k", Deadline::after(2s)).value() == 1);
    CHECK(authorizations == std::vector<std::string>{"token-1"});
  }
  SUBCASE("an expired token is replaced once") {
    CHECK(etcd.delete_key("k", Deadline::after(2s)).value() == 1);
    ++tokens_issued; // the member forgot token-1
    CHECK(etcd.delete_key("k", Deadline::after(2s)).value() == 1);
    CHECK(authorizations == std::vector<std::string>{"token-1", "token-1", "token-3"});
  }
  SUBCASE("a refused password is final: asked once, and the reason names the user") {
    refuse_with = 400;
    const auto deleted = etcd.delete_key("k", Deadline::after(2s));
    REQUIRE_FALSE(deleted);
    CHECK(deleted.error().message ==
          "etcd at " + member.url("") + " refused user \"root\" (400): etcdserver: authentication failed, invalid user ID "
                                      "or password");
    const std::lock_guard lock(mutex);
    CHECK(authentications == 1);
    CHECK(authorizations.empty());
  }
  SUBCASE("a member too busy to check the password is asked again") {
    refuse_with = 503;
    CHECK_FALSE(etcd.delete_key("k", Deadline::after(400ms)));
    const std::lock_guard lock(mutex);
    CHECK(authentications >= 2);
  }
  SUBCASE("a member with authentication off is used without a token") {
    auth_enabled = false;
    CHECK(etcd.delete_key("k", Deadline::after(2s)).value() == 1);
    CHECK(authorizations == std::vector<std::string>{""});
  }
}

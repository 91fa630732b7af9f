#include "lameduck/kube/kube_config.hpp"

#include "lameduck/core/durable_file.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <thread>

using lameduck::fixed_environment;
using lameduck::resolve_kube_config;
using lameduck::TokenSource;
using lameduck::test::TempDir;

TEST_CASE("resolve_kube_config") {
  const TempDir account;
  REQUIRE(lameduck::write_file_atomically(account.file("token"), "t0k3n\n"));
  REQUIRE(lameduck::write_file_atomically(account.file("ca.crt"), "-----BEGIN CERTIFICATE-----\n"));

  SUBCASE("in-cluster, with an IPv6 host in brackets") {
    const auto config = resolve_kube_config(
        {}, fixed_environment({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
        account.path());
    REQUIRE(config);
    CHECK(config->server.text() == "https://[fd00::1]:443/");
    CHECK(config->token_file == account.file("token"));
    CHECK(config->ca_file == account.file("ca.crt"));
    CHECK(resolve_kube_config({}, fixed_environment({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                                     {"KUBERNETES_SERVICE_PORT", "6443"}}),
                              account.path())
              ->server.origin() == "https://10.96.0.1:6443");
  }
  SUBCASE("the flags win") {
    const auto config = resolve_kube_config({"https://127.0.0.1:8443", account.file("token"), account.file("ca.crt")},
                                            fixed_environment({}), "/nonexistent");
    REQUIRE(config);
    CHECK(config->server.port == 8443);
  }
  SUBCASE("plain http is refused: the token would travel in the clear") {
    const auto plain = resolve_kube_config({"http://127.0.0.1:8080", account.file("token"), account.file("ca.crt")},
                                           fixed_environment({}), account.path());
    REQUIRE_FALSE(plain);
    CHECK(plain.error().message.find("https only") != std::string::npos);
  }
  SUBCASE("what is missing is said") {
    const auto none = resolve_kube_config({}, fixed_environment({}), account.path());
    REQUIRE_FALSE(none);
    CHECK(none.error().message.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
    const auto no_ca = resolve_kube_config({"https://127.0.0.1:8443", "", ""}, fixed_environment({}), "/nonexistent");
    REQUIRE_FALSE(no_ca);
    CHECK(no_ca.error().message.find("/nonexistent/ca.crt") != std::string::npos);
  }
}

TEST_CASE("TokenSource") {
  const TempDir dir;
  const std::string path = dir.file("token");
  REQUIRE(lameduck::write_file_atomically(path, "first\n"));
  TokenSource source(path);
  CHECK(source.token().value() == "first");

  SUBCASE("a rotated file is read again; invalidate forces it") {
    // The kubelet replaces the file; its modification time changes with it.
    REQUIRE(lameduck::write_file_atomically(path, "second\n"));
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds{1});
    CHECK(source.token().value() == "second");
    source.invalidate();
    CHECK(source.token().value() == "second");
  }
  SUBCASE("an empty or missing file is an error naming it, not the token") {
    REQUIRE(lameduck::write_file_atomically(path, "\n"));
    source.invalidate();
    CHECK(source.token().error().message.find(path) != std::string::npos);
    std::filesystem::remove(path);
    source.invalidate();
    CHECK_FALSE(source.token());
  }
}

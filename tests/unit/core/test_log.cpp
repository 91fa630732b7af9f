#include "lameduck/core/log.hpp"

#include <doctest/doctest.h>

#include <regex>

using lameduck::Logger;
using lameduck::LogFormat;
using lameduck::LogLevel;

namespace {

struct Captured {
  std::vector<std::string> lines;
  Logger::Sink sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

} // namespace

TEST_CASE("Logger") {
  Captured out;

  SUBCASE("json lines carry the contract's fields in order") {
    Logger log("prestop", LogFormat::json, LogLevel::info, out.sink());
    log.info("phase.done", "endpoints gone", {{"phase", "endpoints"}, {"ms", 412}});
    REQUIRE(out.lines.size() == 1);
    const std::string& line = out.lines.front();
    CHECK(line.back() == '\n');
    CHECK(std::regex_match(line, std::regex(R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","tool":"prestop","event":"phase\.done","phase":"endpoints","ms":412,"msg":"endpoints gone"\}\n)")));
  }
  SUBCASE("below the threshold nothing is written") {
    Logger log("prestop", LogFormat::json, LogLevel::warn, out.sink());
    log.info("x", "y");
    log.debug("x", "y");
    log.warn("x", "y");
    CHECK(out.lines.size() == 1);
  }
  SUBCASE("secrets are redacted by field name, also nested") {
    Logger log("prestop", LogFormat::json, LogLevel::info, out.sink());
    log.info("api.request", "sent",
             {{"Authorization", "Bearer abc"}, {"headers", {{"x-token", "abc"}}}, {"kube_ca_cert", "PEM"}});
    CHECK(out.lines.front().find("abc") == std::string::npos);
    CHECK(out.lines.front().find("PEM") == std::string::npos);
    CHECK(out.lines.front().find("\"Authorization\":\"[redacted]\"") != std::string::npos);
  }
  SUBCASE("text lines are readable") {
    Logger log("readyz-toggle", LogFormat::text, LogLevel::info, out.sink());
    log.warn("upstream.failed", "agent health failed", {{"url", "http://127.0.0.1:8080/healthz"}, {"why", "timed out"}});
    CHECK(std::regex_match(out.lines.front(), std::regex(R"(\S+Z warn readyz-toggle upstream\.failed: agent health failed url=http://127\.0\.0\.1:8080/healthz why="timed out"\n)")));
  }
  SUBCASE("invalid UTF-8 from a peer does not throw") {
    Logger log("drain-wait", LogFormat::json, LogLevel::info, out.sink());
    log.warn("drain.garbage", std::string("bad \xff\xfe bytes"), {{"body", std::string("\xc3\x28")}});
    CHECK(out.lines.size() == 1);
  }
}

TEST_CASE("is_secret_field_name") {
  CHECK(lameduck::is_secret_field_name("token"));
  CHECK(lameduck::is_secret_field_name("kube_token_file"));
  CHECK(lameduck::is_secret_field_name("AUTHORIZATION"));
  CHECK(lameduck::is_secret_field_name("client_cert"));
  CHECK_FALSE(lameduck::is_secret_field_name("phase"));
  CHECK_FALSE(lameduck::is_secret_field_name("url"));
}

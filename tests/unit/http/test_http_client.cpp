#include "lameduck/http/http_client.hpp"

#include "support/http_test_server.hpp"
#include "support/sockets.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::HttpClient;
using lameduck::HttpErrorKind;
using lameduck::HttpRequest;
using lameduck::parse_url;
using lameduck::test::closed_port;
using lameduck::test::HttpTestServer;

namespace {

HttpClient client_for(const std::string& url, lameduck::HttpClientOptions options = {}) {
  return HttpClient(parse_url(url).value(), std::move(options));
}

// Answers one connection with `answer`, byte for byte, for what no HTTP library writes.
class OneAnswerServer {
public:
  explicit OneAnswerServer(std::string answer)
      : m_thread([this, answer = std::move(answer)] {
          const int connection = m_listener.accept(Deadline::after(5s));
          std::string request;
          char buffer[4096];
          while (request.find("\r\n\r\n") == std::string::npos) {
            const auto n = ::read(connection, buffer, sizeof buffer);
            if (n <= 0) {
              break;
            }
            request.append(buffer, static_cast<std::size_t>(n));
          }
          (void)::write(connection, answer.data(), answer.size());
          ::close(connection);
        }) {}
  ~OneAnswerServer() { m_thread.join(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_listener.port()); }

private:
  lameduck::test::LoopbackListener m_listener;
  std::thread m_thread;
};

} // namespace

TEST_CASE("HttpClient::send") {
  SUBCASE("a chunked answer with trailer fields, as etcd's gateway sends its errors") {
    const OneAnswerServer server("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                                 "Trailer: Grpc-Trailer-Content-Type\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "a\r\n{\"code\":3}\r\n0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n");
    auto client = client_for(server.url());
    const auto response = client.send({"POST", "/v3/auth/authenticate"}, Deadline::after(2s));
    REQUIRE(response);
    CHECK(response->status == 400);
    CHECK(response->body == R"({"code":3})");
  }
  SUBCASE("status, headers and body of a plain exchange") {
    HttpTestServer server([](httplib::Server& s) {
      s.Post("/drain", [](const httplib::Request& request, httplib::Response& response) {
        response.set_header("X-Seen-Key", request.get_header_value("Idempotency-Key"));
        response.set_content("{\"echo\":" + request.body + "}", "application/json");
        response.status = 202;
      });
    });
    auto client = client_for(server.url());
    HttpRequest request{"POST", "/drain", {{"Idempotency-Key", "uid-1"}}, "1", "application/json"};
    const auto response = client.send(request, Deadline::after(2s));
    REQUIRE(response);
    CHECK(response->status == 202);
    CHECK(response->header("x-seen-key") == "uid-1");
    CHECK(response->body == "{\"echo\":1}");
  }
  SUBCASE("nothing listening is refused, quickly") {
    auto client = client_for("http://127.0.0.1:" + std::to_string(closed_port()));
    const auto response = client.send({}, Deadline::after(2s));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == HttpErrorKind::refused);
  }
  SUBCASE("a server that never answers is cut off at the deadline") {
    HttpTestServer* self = nullptr;
    HttpTestServer server([&self](httplib::Server& s) {
      s.Get("/hang", [&self](const httplib::Request&, httplib::Response&) { self->stall(10s); });
    });
    self = &server;
    auto client = client_for(server.url());
    const auto started = Clock::now();
    const auto response = client.send({"GET", "/hang"}, Deadline::after(300ms));
    const auto took = Clock::now() - started;
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == HttpErrorKind::timeout);
    CHECK(took >= 300ms);
    CHECK(took < 300ms + k_scheduling_slack);
  }
  SUBCASE("a slow drip of bytes cannot outlast the deadline") {
    HttpTestServer* self = nullptr;
    HttpTestServer server([&self](httplib::Server& s) {
      s.Get("/drip", [&self](const httplib::Request&, httplib::Response& response) {
        response.set_chunked_content_provider("text/plain", [&self](std::size_t, httplib::DataSink& sink) {
          self->stall(50ms);
          return sink.write("x", 1);
        });
      });
    });
    self = &server;
    auto client = client_for(server.url());
    const auto started = Clock::now();
    const auto response = client.send({"GET", "/drip"}, Deadline::after(300ms));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == HttpErrorKind::timeout);
    CHECK(Clock::now() - started < 300ms + k_scheduling_slack);
  }
  SUBCASE("a huge answer is refused at the limit") {
    HttpTestServer server([](httplib::Server& s) {
      s.Get("/huge", [](const httplib::Request&, httplib::Response& response) {
        response.set_content(std::string(100'000, 'x'), "text/plain");
      });
    });
    lameduck::HttpClientOptions options;
    options.max_body_bytes = 1000;
    auto client = client_for(server.url(), options);
    const auto response = client.send({"GET", "/huge"}, Deadline::after(2s));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == HttpErrorKind::too_large);
    CHECK(response.error().message == "the answer from " + parse_url(server.url()).value().origin() +
                                          " is larger than 1000 bytes");
  }
  SUBCASE("an expired deadline sends nothing") {
    auto client = client_for("http://127.0.0.1:9");
    const auto response = client.send({}, Deadline::at(Clock::now() - 1s));
    REQUIRE_FALSE(response);
    CHECK(response.error().kind == HttpErrorKind::timeout);
  }
}

TEST_CASE("HttpClient::stream") {
  HttpTestServer server([](httplib::Server& s) {
    s.Get("/watch", [](const httplib::Request&, httplib::Response& response) {
      auto sent = std::make_shared<int>(0);
      response.set_chunked_content_provider("application/json", [sent](std::size_t, httplib::DataSink& sink) {
        if (*sent == 3) {
          sink.done();
          return true;
        }
        const std::string line = "{\"n\":" + std::to_string((*sent)++) + "}\n";
        return sink.write(line.data(), line.size());
      });
    });
    s.Get("/gone", [](const httplib::Request&, httplib::Response& response) {
      response.status = 410;
      response.set_content("{\"kind\":\"Status\",\"code\":410}", "application/json");
    });
  });
  auto client = client_for(server.url());

  SUBCASE("2xx bodies go to the receiver piece by piece") {
    std::string streamed;
    const auto response = client.stream({"GET", "/watch"}, Deadline::after(2s), [&](std::string_view piece) {
      streamed += piece;
      return true;
    });
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(streamed == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
    CHECK(response->body.empty());
  }
  SUBCASE("the receiver can stop early without an error") {
    int pieces = 0;
    const auto response = client.stream({"GET", "/watch"}, Deadline::after(2s), [&](std::string_view) {
      return ++pieces < 1;
    });
    REQUIRE(response);
    CHECK(pieces == 1);
  }
  SUBCASE("error bodies stay in the response") {
    bool called = false;
    const auto response = client.stream({"GET", "/gone"}, Deadline::after(2s), [&](std::string_view) {
      called = true;
      return true;
    });
    REQUIRE(response);
    CHECK(response->status == 410);
    CHECK(response->body == "{\"kind\":\"Status\",\"code\":410}");
    CHECK_FALSE(called);
  }
}

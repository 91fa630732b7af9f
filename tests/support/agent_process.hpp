#pragma once

// The demo agent as a child process on a free loopback port, ready once it has logged where
// it listens. Tasks take 30 s unless --task-time says otherwise, so they are in flight when a
// test drains it.

#include "lameduck/http/http_client.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include <string>
#include <vector>

namespace lameduck::test {

class AgentProcess {
public:
  explicit AgentProcess(const std::string& state_file, std::vector<std::string> flags = {})
      : m_process(argv(state_file, std::move(flags))) {
    const auto listening = m_process.wait_for_event("agent.listening", Deadline::after(std::chrono::seconds{10}));
    REQUIRE(listening);
    m_port = listening->at("port").get<int>();
  }

  Process& process() { return m_process; }
  int port() const { return m_port; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(m_port) + path; }

  // The status of POST /tasks {"id": id}, or 0 when there was no answer.
  int submit(const std::string& id) const {
    HttpClient client(parse_url(url("/")).value());
    const auto answer = client.send({.method = "POST", .target = "/tasks", .headers = {},
                                     .body = R"({"id":")" + id + R"("})", .content_type = "application/json"},
                                    Deadline::after(std::chrono::seconds{5}));
    return answer ? answer->status : 0;
  }

  // GET /tasks: every task the agent knows, by id.
  nlohmann::json tasks() const {
    HttpClient client(parse_url(url("/")).value());
    HttpRequest request;
    request.target = "/tasks";
    const auto answer = client.send(request, Deadline::after(std::chrono::seconds{5}));
    return nlohmann::json::parse(answer.value().body).at("tasks");
  }

  // How many times it has logged `event` so far ("drain.started", "drain.flushed").
  int logged(const std::string& event) const {
    int count = 0;
    for (const auto& line : m_process.stderr_lines()) {
      count += line.find(R"("event":")" + event + "\"") != std::string::npos ? 1 : 0;
    }
    return count;
  }

private:
  static std::vector<std::string> argv(const std::string& state_file, std::vector<std::string> flags) {
    std::vector<std::string> all{tool_path("demo-agent"), "--state-file", state_file};
    if (std::find(flags.begin(), flags.end(), "--task-time") == flags.end()) {
      all.insert(all.end(), {"--task-time", "30s"}); // long enough to be in flight when drained
    }
    all.insert(all.end(), flags.begin(), flags.end());
    return all;
  }

  Process m_process;
  int m_port = 0;
};

} // namespace lameduck::test

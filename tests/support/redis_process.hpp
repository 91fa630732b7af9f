#pragma once

// A real Redis (Debian's redis-server) for one test: a port on loopback (or on another address
// of the machine's own), a temporary directory, ready once it logs that it accepts connections;
// stopped when the test ends. With `appendonly yes` it can be restarted on the same port and
// directory, keeping what it acknowledged, as a Redis that restarts between a drain's checkpoint
// and a successor's claim.

#include "lameduck/state/redis_connection.hpp"
#include "support/process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <string>

namespace lameduck::test {

class RedisProcess {
public:
  struct Options {
    bool append_only = false;
    std::string password; // requirepass, written to a password file for the URL
    // Another local address, such as the real cluster's, which its pods reach through the pod
    // network. The port is still one found free on loopback: the cluster's servers keep to
    // fixed ports below the ephemeral range that it comes from.
    std::string address = "127.0.0.1";
  };

  RedisProcess() : RedisProcess(Options{}) {}
  explicit RedisProcess(Options options) : m_options(std::move(options)), m_port(closed_port()) {
    if (!m_options.password.empty()) {
      std::ofstream(m_dir.file("password")) << m_options.password << "\n";
    }
    start();
  }

  int port() const { return m_port; }
  std::string url(const std::string& prefix = "lameduck:") const {
    std::string text = "redis://" + m_options.address + ":" + std::to_string(m_port) + "/0?prefix=" + prefix;
    if (!m_options.password.empty()) {
      text += "&password-file=" + m_dir.file("password");
    }
    return text;
  }

  void start() {
    std::vector<std::string> argv{"/usr/bin/redis-server", "--port", std::to_string(m_port), "--bind", m_options.address,
                                  "--dir", m_dir.path().string(), "--save", "", "--daemonize", "no",
                                  "--appendonly", m_options.append_only ? "yes" : "no", "--appendfsync", "always"};
    if (!m_options.password.empty()) {
      argv.insert(argv.end(), {"--requirepass", m_options.password});
    }
    if (m_options.address != "127.0.0.1" && m_options.password.empty()) {
      // Protected mode answers only loopback clients while the default user has no password.
      argv.insert(argv.end(), {"--protected-mode", "no"});
    }
    m_process = std::make_unique<Process>(argv);
    REQUIRE(m_process->wait_for_stdout_containing("Ready to accept connections", Deadline::after(std::chrono::seconds{30})));
  }
  // SIGTERM, as an orderly restart does; SIGKILL, as an OOM kill does.
  void stop(int signal = SIGTERM) {
    m_process->send_signal(signal);
    REQUIRE(m_process->wait_exit(Deadline::after(std::chrono::seconds{30})));
    m_process.reset();
  }

  // One command as a test's own client.
  nlohmann::json command(const std::vector<std::string>& arguments) {
    RedisConnection connection(parse_redis_url(url()).value());
    auto reply = connection.command(arguments, Deadline::after(std::chrono::seconds{10}));
    REQUIRE_MESSAGE(reply.has_value(), (reply ? "" : reply.error().message));
    return *reply;
  }

private:
  Options m_options;
  TempDir m_dir;
  int m_port;
  std::unique_ptr<Process> m_process;
};

} // namespace lameduck::test

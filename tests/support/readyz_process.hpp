#pragma once

// The real `readyz-toggle serve` as a child process on a free port, ready once it has logged
// where it listens.

#include "support/process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace lameduck::test {

class ReadyzProcess {
public:
  // `flags` are added after "serve --listen <listen>"; `launcher` starts the tool (its path,
  // after a chroot or `ip netns exec` when it runs in another root or namespace).
  explicit ReadyzProcess(std::vector<std::string> flags = {}, const std::string& listen = "127.0.0.1:0",
                         std::vector<std::string> launcher = {tool_path("readyz-toggle")})
      : m_process(make_argv(std::move(flags), listen, std::move(launcher))) {
    const auto listening = m_process.wait_for_event("serve.listening", Deadline::after(std::chrono::seconds{10}));
    if (!listening) {
      throw std::runtime_error("readyz-toggle did not start listening:\n" + m_process.stderr_text());
    }
    m_port = listening->at("port").get<int>();
  }

  Process& process() { return m_process; }
  int port() const { return m_port; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
  static std::vector<std::string> make_argv(std::vector<std::string> flags, const std::string& listen,
                                            std::vector<std::string> argv) {
    argv.insert(argv.end(), {"serve", "--listen", listen});
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  Process m_process;
  int m_port = 0;
};

} // namespace lameduck::test

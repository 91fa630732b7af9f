// A log shipper stand-in: tails a log file into memory and ships what it holds (appends it to
// --output, durably) only in batches, as real shippers do, or when drained: it speaks the drain
// protocol through lameduck's DrainController, and its flush is "read the file to its end, ship
// everything". A pod drains it after the agent, so that the agent's last line is shipped.
//
//   log-shipper --input PATH --output PATH [--listen 127.0.0.1:0] [--batch-time 1h]
//
//   POST/GET /drain   the drain protocol

#include "cli/cli.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/drain/drain_controller.hpp"
#include "lameduck/readiness/readiness_server.hpp"

#include <httplib.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace {

using namespace lameduck;
using namespace std::chrono_literals;

class Shipper {
public:
  Shipper(std::string input, std::string output, const Logger& logger)
      : m_input(std::move(input)), m_output(std::move(output)), m_logger(logger) {}

  // New whole lines of the input since the last read, into the buffer.
  void read_input() {
    const std::lock_guard lock(m_mutex);
    if (m_fd < 0) {
      m_fd = ::open(m_input.c_str(), O_RDONLY | O_CLOEXEC);
      if (m_fd < 0) {
        return; // not written yet
      }
    }
    char chunk[8192];
    ssize_t got = 0;
    while ((got = ::read(m_fd, chunk, sizeof chunk)) > 0) {
      m_partial.append(chunk, static_cast<std::size_t>(got));
    }
    const auto last_newline = m_partial.rfind('\n');
    if (last_newline != std::string::npos) {
      m_buffer += m_partial.substr(0, last_newline + 1);
      m_partial.erase(0, last_newline + 1);
    }
  }

  Expected<Done> ship() {
    read_input();
    const std::lock_guard lock(m_mutex);
    const int fd = ::open(m_output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return unexpected("cannot open " + m_output + ": " + std::strerror(errno));
    }
    const bool written = ::write(fd, m_buffer.data(), m_buffer.size()) == static_cast<ssize_t>(m_buffer.size()) &&
                         ::fsync(fd) == 0;
    ::close(fd);
    if (!written) {
      return unexpected("cannot write " + m_output);
    }
    m_logger.info("shipper.shipped", "shipped the buffered lines", {{"bytes", m_buffer.size()}});
    m_buffer.clear();
    return Done{};
  }

private:
  std::string m_input;
  std::string m_output;
  const Logger& m_logger;
  std::mutex m_mutex;
  int m_fd = -1;
  std::string m_partial;
  std::string m_buffer;
};

} // namespace

int main(int argc, char* argv[]) {
  std::string listen = "127.0.0.1:0";
  std::string input;
  std::string output;
  Duration batch_time = 1h;
  const auto app = cli::make_app("log-shipper", "A log shipper stand-in that speaks the drain protocol.");
  cli::LoggingOptions logging;
  cli::add_logging_options(*app, logging);
  app->add_option("--listen", listen, "Address and port")->type_name("ADDRESS");
  app->add_option("--input", input, "The log file to tail")->required()->type_name("PATH");
  app->add_option("--output", output, "Where shipped lines go (the observability backend)")->required()->type_name("PATH");
  cli::add_duration(*app, "--batch-time", batch_time, "How long lines wait in memory before they are shipped");
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("log-shipper", logging);
  const auto address = parse_listen_address(listen);
  if (!address) {
    logger.error("config.invalid", "--listen: " + address.error().message);
    return 2;
  }
  ignore_sigpipe();
  const ShutdownSignals signals;
  Shipper shipper(input, output, logger);
  DrainController drain([&shipper](const std::string&) { return shipper.ship(); }, logger);
  httplib::Server server;
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(1);
  drain.serve_on(server);
  const int port = server.bind_to_any_port(address->host);
  if (port < 0) {
    logger.error("serve.failed", "cannot listen on " + listen);
    return 1;
  }
  logger.info("shipper.listening", "tailing", {{"port", port}, {"input", input}});
  std::thread serving([&server] { server.listen_after_bind(); });
  // Tail every 50 ms, ship every --batch-time: lines read but not yet shipped are what a
  // shipper stopped without a drain loses.
  auto next_batch = Clock::now() + batch_time;
  while (signals.wait(Deadline::after(50ms)) == 0) {
    shipper.read_input();
    if (Clock::now() >= next_batch) {
      if (const auto shipped = shipper.ship(); !shipped) {
        logger.warn("shipper.failed", shipped.error().message);
      }
      next_batch = Clock::now() + batch_time;
    }
  }
  server.stop();
  serving.join();
  return 0;
}

// readyz-toggle: the pod's readiness endpoint and its switch (contract §3).

#include "lameduck/cli.hpp"
#include "lameduck/exit_code.hpp"
#include "lameduck/installer.hpp"
#include "lameduck/readiness_client.hpp"
#include "lameduck/readiness_server.hpp"

#include <iostream>
#include <map>

namespace {

using namespace lameduck;

int run_switch(const std::string& url_text, SwitchRequest request, const std::string& reason, Duration timeout,
               const Logger& logger) {
  const auto state = request_readiness_switch(parse_url(url_text).value(), request, reason, Deadline::after(timeout));
  if (!state) {
    logger.error("switch.failed", state.error().message, {{"url", url_text}});
    return exit_code::k_gave_up;
  }
  std::cout << readiness_state_json(*state) << '\n';
  return exit_code::k_ok;
}

int run_install(const std::string& directory, const Logger& logger) {
  const auto from = own_directory();
  auto written = from ? install_tools(*from, directory) : unexpected(from.error());
  if (!written) {
    logger.error("install.failed", written.error().message, {{"dir", directory}});
    return exit_code::k_gave_up;
  }
  logger.info("install.done", "installed the tools", {{"dir", directory}, {"files", *written}});
  return exit_code::k_ok;
}

} // namespace

int main(int argc, char* argv[]) {
  const auto app = cli::make_app("readyz-toggle", "The pod's readiness endpoint, and the switch prestop flips.");
  app->require_subcommand(1);
  cli::LoggingOptions logging;
  cli::add_logging_options(*app, logging);
  app->fallthrough(); // logging flags may come after the subcommand too

  ReadinessServerOptions serve_options;
  std::string upstream;
  auto* serve = app->add_subcommand("serve", "Serve /readyz, /livez, /metrics and the loopback-only switch");
  serve->add_option("--listen", serve_options.listen, "Address and port to listen on; [::] is IPv6 and IPv4")
      ->type_name("ADDRESS")
      ->default_str(k_default_listen)
      ->check(CLI::Validator(
          [](const std::string& text) {
            const auto address = parse_listen_address(text);
            return address ? std::string{} : address.error().message;
          },
          "", "address"));
  cli::add_url(*serve, "--upstream", upstream, "The agent's own health URL; /readyz is 503 unless it answers 2xx/3xx");
  cli::add_duration(*serve, "--upstream-timeout", serve_options.upstream_timeout,
                    "How long /readyz waits for the upstream before answering 503");
  serve->add_option("--state-file", serve_options.state_file, "File that keeps the switch across restarts")
      ->type_name("PATH");
  serve->add_option("--start", serve_options.start_ready, "State before anything flips the switch: ready or not-ready")
      ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"ready", true}, {"not-ready", false}})
                      .description(""))
      ->type_name("STATE")
      ->default_str("ready");

  std::string url = k_default_readyz_url;
  Duration timeout = k_default_switch_timeout;
  std::string reason;
  const std::map<std::string, std::pair<SwitchRequest, std::string>> switch_commands{
      {"off", {SwitchRequest::disable, "Turn readiness off (the server answers 503) and print the new state"}},
      {"on", {SwitchRequest::enable, "Turn readiness back on and print the new state"}},
      {"status", {SwitchRequest::status, "Print the switch's state"}}};
  std::map<CLI::App*, SwitchRequest> switch_apps;
  for (const auto& [name, command] : switch_commands) {
    auto* sub = app->add_subcommand(name, command.second);
    cli::add_url(*sub, "--url", url, "The readyz-toggle server");
    cli::add_duration(*sub, "--timeout", timeout, "How long to keep trying to reach the server");
    if (command.first != SwitchRequest::status) {
      sub->add_option("--reason", reason, "Why, as /readyz/state and the logs will show it")->type_name("TEXT");
    }
    switch_apps[sub] = command.first;
  }

  std::string install_dir;
  auto* install = app->add_subcommand("install", "Copy the three tools into DIR (mode 0755), for an init container");
  install->add_option("DIR", install_dir, "Directory to copy the tools into")->required()->type_name("DIR");

  cli::bind_environment(*app);
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("readyz-toggle", logging);
  return cli::run_guarded("readyz-toggle", [&] {
    if (serve->parsed()) {
      if (!upstream.empty()) {
        serve_options.upstream = parse_url(upstream).value();
      }
      return serve_readiness(serve_options, logger);
    }
    if (install->parsed()) {
      return run_install(install_dir, logger);
    }
    for (const auto& [sub, request] : switch_apps) {
      if (sub->parsed()) {
        const std::string why = !reason.empty() ? reason
                                : request == SwitchRequest::disable ? "disabled by readyz-toggle off"
                                                                    : "enabled by readyz-toggle on";
        return run_switch(url, request, why, timeout, logger);
      }
    }
    return exit_code::k_usage;
  });
}

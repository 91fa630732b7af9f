#include "cli/readyz_toggle_flags.hpp"

#include <map>

namespace lameduck::cli {

std::optional<int> parse_readyz_toggle_flags(int argc, const char* const* argv, ReadyzToggleOptions& options,
                                             LoggingOptions& logging, std::ostream& out, std::ostream& err) {
  using Command = ReadyzToggleOptions::Command;
  const auto app = make_app("readyz-toggle", "The pod's readiness endpoint, and the switch prestop flips.");
  app->require_subcommand(1);
  app->fallthrough(); // the logging flags may come after the subcommand too
  add_logging_options(*app, logging);

  auto* serve = app->add_subcommand("serve", "Serve /readyz, /livez, /metrics and the loopback-only switch");
  serve->add_option("--listen", options.serve.listen, "Address and port to listen on; [::] is IPv6 and IPv4")
      ->type_name("ADDRESS")
      ->default_str(k_default_listen)
      ->check(CLI::Validator(
          [](const std::string& text) {
            const auto address = parse_listen_address(text);
            return address ? std::string{} : address.error().message;
          },
          "", "address"));
  std::string upstream;
  add_url(*serve, "--upstream", upstream, "The agent's own health URL; /readyz is 503 unless it answers 2xx/3xx");
  add_duration(*serve, "--upstream-timeout", options.serve.upstream_timeout,
                    "How long /readyz waits for the upstream before answering 503");
  serve->add_option("--state-file", options.serve.state_file, "File that keeps the switch across restarts")
      ->type_name("PATH");
  serve->add_option("--start", options.serve.start_ready, "State before anything flips the switch: ready or not-ready")
      ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"ready", true}, {"not-ready", false}})
                      .description(""))
      ->type_name("STATE")
      ->default_str("ready");

  const std::map<Command, std::pair<const char*, const char*>> switch_commands{
      {Command::disable, {"off", "Turn readiness off (the server answers 503) and print the new state"}},
      {Command::enable, {"on", "Turn readiness back on and print the new state"}},
      {Command::status, {"status", "Print the switch's state"}}};
  std::map<Command, CLI::App*> subcommands{{Command::serve, serve}};
  for (const auto& [command, text] : switch_commands) {
    auto* sub = app->add_subcommand(text.first, text.second);
    add_url(*sub, "--url", options.url, "The readyz-toggle server");
    add_duration(*sub, "--timeout", options.timeout, "How long to keep trying to reach the server");
    if (command != Command::status) {
      sub->add_option("--reason", options.reason, "Why, as /readyz/state and the logs will show it")->type_name("TEXT");
    }
    subcommands[command] = sub;
  }
  auto* install = app->add_subcommand("install", "Copy the three tools into DIR (mode 0755), for an init container");
  install->add_option("DIR", options.install_dir, "Directory to copy the tools into")->required()->type_name("DIR");
  subcommands[Command::install] = install;

  bind_environment(*app);
  if (const auto exit_now = parse(*app, argc, argv, out, err)) {
    return exit_now;
  }
  for (const auto& [command, sub] : subcommands) {
    if (sub->parsed()) {
      options.command = command;
    }
  }
  if (!upstream.empty()) {
    options.serve.upstream = parse_url(upstream).value();
  }
  return std::nullopt;
}

} // namespace lameduck::cli

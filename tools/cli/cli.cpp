#include "cli/cli.hpp"

#include "lameduck/core/exit_code.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/version.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>

namespace lameduck::cli {

namespace {

// Lays options out as "--grace-period DURATION   what it does [default: 30s] [env: ...]"
// instead of CLI11's "TEXT:DURATION=30s (Env:...)".
class HelpFormatter : public CLI::Formatter {
public:
  HelpFormatter() { column_width(34); }

  std::string make_option_opts(const CLI::Option* option) const override {
    if (option->get_type_size() == 0) {
      return {};
    }
    std::string out = " " + option->get_type_name();
    if (option->get_expected_max() > 1) {
      out += " ...";
    }
    return out;
  }

  std::string make_option_desc(const CLI::Option* option) const override {
    std::string out = option->get_description();
    if (!option->get_default_str().empty()) {
      out += " [default: " + option->get_default_str() + "]";
    }
    if (!option->get_envname().empty()) {
      out += " [env: " + option->get_envname() + "]";
    }
    return out;
  }
};

bool is_environment_bindable(const CLI::Option* option) {
  const auto& names = option->get_lnames();
  return !names.empty() && names.front() != "help" && names.front() != "version" && option->get_envname().empty();
}

void bind_environment_recursive(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    if (is_environment_bindable(option)) {
      option->envname(environment_name("--" + option->get_lnames().front()));
    }
  }
  for (CLI::App* subcommand : app.get_subcommands([](CLI::App*) { return true; })) {
    bind_environment_recursive(*subcommand);
  }
}

} // namespace

std::unique_ptr<CLI::App> make_app(const std::string& tool, const std::string& purpose) {
  auto app = std::make_unique<CLI::App>(purpose, tool);
  app->formatter(std::make_shared<HelpFormatter>());
  app->set_version_flag("--version", tool + " " + std::string(k_version), "Print the version and exit");
  app->set_help_flag("-h,--help", "Print this help and exit");
  app->get_formatter()->label("REQUIRED", "(required)");
  return app;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        const auto parsed = parse_duration(text);
        if (!parsed) {
          return parsed.error().message;
        }
        if (parsed->count() < 0) {
          return "a duration must not be negative, got \"" + text + "\"";
        }
        return {};
      },
      "", "duration");
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, Duration& target, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name, [&target](const std::string& text) { target = parse_duration(text).value(); }, help)
      ->check(duration_validator())
      ->type_name("DURATION")
      ->default_str(format_duration(target));
}

namespace {

CLI::Validator url_validator() {
  const auto validate = [](const std::string& text) -> std::string {
    if (text.empty()) {
      return {}; // an empty URL turns the feature off
    }
    const auto parsed = parse_url(text);
    return parsed ? std::string{} : parsed.error().message;
  };
  return CLI::Validator(validate, "", "url");
}

} // namespace

CLI::Option* add_url(CLI::App& app, const std::string& name, std::string& target, const std::string& help) {
  auto* option = app.add_option(name, target, help)->check(url_validator())->type_name("URL");
  if (!target.empty()) {
    option->default_str(target);
  }
  return option;
}

CLI::Option* add_urls(CLI::App& app, const std::string& name, std::vector<std::string>& target,
                      const std::string& help) {
  return app.add_option(name, target, help)->check(url_validator())->delimiter(',')->type_name("URL");
}

CLI::Option* add_drain_flags(CLI::App& app, DrainFlags& flags, const std::string& drain_url_help,
                             std::vector<std::string>* repeated_urls) {
  auto* drain_url = repeated_urls != nullptr
                        ? app.add_option("--drain-url", *repeated_urls, drain_url_help)->check(url_validator())->type_name("URL")
                        : add_url(app, "--drain-url", flags.drain_url, drain_url_help);
  add_url(app, "--status-url", flags.status_url, "The agent's drain status (GET); default: the drain URL");
  add_duration(app, "--poll-interval", flags.poll_interval, "How often to ask an agent that ignores the waitMs long-poll");
  app.add_option("--connections-port", flags.connections_ports,
                 "After the flush, wait until no ESTABLISHED connection has this local port (repeatable)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535).description(""));
  app.add_option("--if-missing", flags.fail_if_missing,
                 "When the agent has no drain endpoint: ok (exit 0) or fail (exit 1)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"ok", false}, {"fail", true}}).description(""))
      ->type_name("ok|fail")
      ->default_str("ok");
  return drain_url;
}

void add_logging_options(CLI::App& app, LoggingOptions& options) {
  const std::map<std::string, LogFormat> formats{{"json", LogFormat::json}, {"text", LogFormat::text}};
  const std::map<std::string, LogLevel> levels{
      {"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warn", LogLevel::warn}, {"error", LogLevel::error}};
  app.add_option("--log-format", options.format, "Log lines on stderr: json (one object per line) or text")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case).description(""))
      ->type_name("FORMAT")
      ->default_str("json");
  app.add_option("--log-level", options.level, "Least severe level logged: debug, info, warn or error")
      ->transform(CLI::CheckedTransformer(levels, CLI::ignore_case).description(""))
      ->type_name("LEVEL")
      ->default_str("info");
}

Logger make_logger(const std::string& tool, const LoggingOptions& options) {
  return Logger(tool, options.format, options.level);
}

std::string environment_name(const std::string& long_flag) {
  std::string name = "LAMEDUCK_";
  for (char c : long_flag.substr(long_flag.find_first_not_of('-'))) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

void bind_environment(CLI::App& app) {
  bind_environment_recursive(app);
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return exit_code::k_ok;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return exit_code::k_ok;
  } catch (const CLI::CallForVersion& version) {
    out << version.what() << '\n';
    return exit_code::k_ok;
  } catch (const CLI::ParseError& error) {
    // CLI11 uses exit codes from 100 up; the contract has one code for every usage error.
    err << app.get_name() << ": error: " << error.what() << "\nRun '" << app.get_name() << " --help' for usage.\n";
    return exit_code::k_usage;
  }
}

int run_guarded(const std::string& tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::cerr << tool << ": error: " << error.what() << '\n';
    return exit_code::k_gave_up;
  }
}

} // namespace lameduck::cli

#pragma once

// What the three tools' command lines have in common: every flag also readable from
// LAMEDUCK_<FLAG> (the flag wins), Go durations, --log-format/--log-level, --version, a help
// text that states units, defaults and variables, and the contract's exit codes (2 for any
// usage error, naming the flag; 0 for --help and --version).

#include "lameduck/core/duration.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_flags.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lameduck::cli {

struct LoggingOptions {
  LogFormat format = LogFormat::json;
  LogLevel level = LogLevel::info;
};

std::unique_ptr<CLI::App> make_app(const std::string& tool, const std::string& purpose);

// Checks a Go duration ("250ms", "1m30s", bare integer = seconds), refusing negative ones; for
// duration flags whose target is not a plain Duration (optional ones, say).
CLI::Validator duration_validator();

// A Go duration flag ("250ms", "1m30s", bare integer = seconds); negative values are refused.
CLI::Option* add_duration(CLI::App& app, const std::string& name, Duration& target, const std::string& help);

// An http(s) URL flag, checked when parsed so that a bad one exits 2 naming the flag.
CLI::Option* add_url(CLI::App& app, const std::string& name, std::string& target, const std::string& help);

// A repeatable URL flag; one value may also hold several, comma-separated (as etcdctl's
// --endpoints, and as LAMEDUCK_<FLAG> can hold them).
CLI::Option* add_urls(CLI::App& app, const std::string& name, std::vector<std::string>& target,
                      const std::string& help);

// The drain flags drain-wait and prestop share: --drain-url (described by `drain_url_help`;
// returned, for the tool to make it required), --status-url, --poll-interval,
// --connections-port (repeatable, 1-65535) and --if-missing ok|fail.
// With `repeated_urls`, --drain-url may be given more than once and its values go there (the
// caller takes the first as flags.drain_url).
CLI::Option* add_drain_flags(CLI::App& app, DrainFlags& flags, const std::string& drain_url_help,
                             std::vector<std::string>* repeated_urls = nullptr);

void add_logging_options(CLI::App& app, LoggingOptions& options);

Logger make_logger(const std::string& tool, const LoggingOptions& options);

// "--grace-period" -> "LAMEDUCK_GRACE_PERIOD".
std::string environment_name(const std::string& long_flag);

// Binds LAMEDUCK_<FLAG> to every long flag of the app and of its subcommands. Call after all
// flags are added.
void bind_environment(CLI::App& app);

// Parses the command line (and environment). Returns the exit code to end with now: 0 after
// --help or --version (printed on `out`), 2 after any usage error (printed on `err` as
// "<tool>: error: ..."); nothing when the tool should go on.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out = std::cout,
                         std::ostream& err = std::cerr);

// Runs a tool's body behind its one top-level catch: anything thrown ends as
// "<tool>: error: ..." and exit code 1.
int run_guarded(const std::string& tool, const std::function<int()>& body);

} // namespace lameduck::cli

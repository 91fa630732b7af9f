#include "cli/lameduck_flags.hpp"

#include <map>

namespace lameduck::cli {

std::optional<int> parse_lameduck_flags(int argc, const char* const* argv, lint::LintOptions& options,
                                        std::ostream& out, std::ostream& err) {
  using lint::ColourMode;
  using lint::OutputFormat;
  using lint::Severity;
  const auto app = make_app("lameduck", "Workstation and CI tools for pods that stop without losing work.");
  app->require_subcommand(1);

  auto* lint = app->add_subcommand("lint", "Check Kubernetes manifests for termination mistakes (docs/lint/)");
  lint->add_option("SOURCE", options.sources, "Manifest files, directories of them, or - for standard input")
      ->type_name("FILE|DIR|-");
  // Words checked as members and mapped afterwards: the refusal then lists the words only.
  const std::map<std::string, OutputFormat> formats{
      {"text", OutputFormat::text}, {"json", OutputFormat::json}, {"sarif", OutputFormat::sarif}};
  std::string output = "text";
  lint->add_option("--output,-o", output, "Report format: text, json or sarif (SARIF 2.1.0)")
      ->check(CLI::IsMember({"text", "json", "sarif"}))
      ->type_name("FORMAT")
      ->default_str("text");
  const std::map<std::string, std::optional<Severity>> severities{
      {"error", Severity::error}, {"warning", Severity::warning}, {"info", Severity::info}, {"none", std::nullopt}};
  std::string fail_on = "error";
  lint->add_option("--fail-on", fail_on, "Exit 1 when a finding is at least this severe: error, warning, info or none")
      ->check(CLI::IsMember({"error", "warning", "info", "none"}))
      ->type_name("SEVERITY")
      ->default_str("error");
  const std::map<std::string, ColourMode> colours{
      {"auto", ColourMode::automatic}, {"always", ColourMode::always}, {"never", ColourMode::never}};
  std::string colour = "auto";
  lint->add_option("--color", colour, "Colour the text report: auto (on a terminal, unless NO_COLOR), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN")
      ->default_str("auto");
  lint->add_flag("--list-rules", options.list_rules, "Print every rule's id, severity and summary, and exit");

  bind_environment(*app);
  if (const auto exit_now = parse(*app, argc, argv, out, err)) {
    return exit_now;
  }
  if (options.sources.empty() && !options.list_rules) {
    err << "lameduck: error: lint: name a manifest file, a directory, or - for standard input\n";
    return 2;
  }
  options.output = formats.at(output);
  options.fail_on = severities.at(fail_on);
  options.colour = colours.at(colour);
  return std::nullopt;
}

} // namespace lameduck::cli

// Manifests as lameduck lint reads them: any bytes, through the YAML reader, every rule and
// every report. Never a crash or an exception, and every place it names is a real line.

#include "fuzz_target.hpp"
#include "lameduck/lint/linter.hpp"
#include "lameduck/lint/report.hpp"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lameduck::lint;
  Manifests manifests;
  // A small node bound, so that alias bombs are cut quickly here too.
  add_manifest_text(manifests, "fuzz.yaml", lameduck::fuzz::as_text(data, size), YamlLimits{10'000});
  const LintResult result = lint_manifests(manifests);
  for (const Finding& finding : result.findings) {
    lameduck::fuzz::require(finding.at.line >= 1 && finding.at.column >= 1);
    lameduck::fuzz::require(!finding.rule.empty() && !finding.message.empty());
  }
  for (const InputError& error : result.errors) {
    lameduck::fuzz::require(!error.message.empty());
  }
  std::ostringstream out;
  write_text_report(out, result, true);
  write_json_report(out, result);
  write_sarif_report(out, result);
  return 0;
}

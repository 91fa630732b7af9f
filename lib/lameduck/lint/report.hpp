#pragma once

// The three ways to print a lint result: for people (grouped by object, coloured on a
// terminal), JSON, and SARIF 2.1.0 for code scanning.

#include "lameduck/lint/linter.hpp"

#include <ostream>

namespace lameduck::lint {

void write_text_report(std::ostream& out, const LintResult& result, bool colour);
void write_json_report(std::ostream& out, const LintResult& result);
void write_sarif_report(std::ostream& out, const LintResult& result);

} // namespace lameduck::lint

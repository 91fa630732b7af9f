// prestop: not built yet. It refuses to run rather than pretend to succeed.

#include "lameduck/cli.hpp"
#include "lameduck/exit_code.hpp"

#include <iostream>

int main(int argc, char* argv[]) {
  const auto app = lameduck::cli::make_app("prestop", "Not implemented yet.");
  lameduck::cli::LoggingOptions logging;
  lameduck::cli::add_logging_options(*app, logging);
  lameduck::cli::bind_environment(*app);
  if (const auto exit_now = lameduck::cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  std::cerr << "prestop: error: not implemented yet\n";
  return lameduck::exit_code::k_usage;
}

#include "lameduck/readiness/readyz_toggle.hpp"

#include "lameduck/core/exit_code.hpp"
#include "lameduck/readiness/installer.hpp"

#include <iostream>

namespace lameduck {

namespace {

using Command = ReadyzToggleOptions::Command;

int run_switch(const ReadyzToggleOptions& options, const Logger& logger) {
  const auto url = parse_url(options.url);
  if (!url) {
    logger.error("switch.failed", url.error().message);
    return exit_code::k_usage;
  }
  const SwitchRequest request = options.command == Command::disable  ? SwitchRequest::disable
                                : options.command == Command::enable ? SwitchRequest::enable
                                                                     : SwitchRequest::status;
  std::string reason = options.reason;
  if (reason.empty()) {
    reason = request == SwitchRequest::disable ? "disabled by readyz-toggle off" : "enabled by readyz-toggle on";
  }
  const auto state = request_readiness_switch(*url, request, reason, Deadline::after(options.timeout));
  if (!state) {
    logger.error("switch.failed", state.error().message, {{"url", options.url}});
    return exit_code::k_gave_up;
  }
  std::cout << readiness_state_json(*state) << std::endl;
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

int run_readyz_toggle(const ReadyzToggleOptions& options, const Logger& logger) {
  switch (options.command) {
  case Command::serve:
    return serve_readiness(options.serve, logger);
  case Command::install:
    return run_install(options.install_dir, logger);
  case Command::disable:
  case Command::enable:
  case Command::status:
    return run_switch(options, logger);
  }
  return exit_code::k_usage;
}

} // namespace lameduck

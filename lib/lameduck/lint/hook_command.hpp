#pragma once

// What a lifecycle hook's exec command does, as far as termination timing goes: a shell with
// -c, a sleep of N seconds (alone or inside the shell's script), or lameduck's prestop with
// the flags that plan its deadline.

#include "lameduck/core/duration.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lameduck::lint {

struct PrestopFlags {
  Duration grace_period = std::chrono::seconds(30);
  bool grace_period_written = false;
  Duration margin = std::chrono::seconds(3);
  Duration min_delay = std::chrono::seconds(2);
  bool hold_until_drained = false;
  std::vector<std::string> services;  // --service: the endpoint wait watches only these
};

struct HookCommand {
  std::vector<std::string> argv;  // the strings of exec.command; non-strings make it unreadable
  bool shell = false;             // sh, bash, ash, dash, zsh or ksh with -c
  bool plain_sleep = false;       // exactly `sleep N`
  std::optional<double> sleep_seconds;  // the longest `sleep N` it runs
  std::optional<PrestopFlags> prestop;  // lameduck's prestop, with its flags
};

// Nothing when `exec_command` is not a list of strings.
std::optional<HookCommand> read_hook_command(const nlohmann::json& exec_command);

} // namespace lameduck::lint

#include "lameduck/lint/hook_command.hpp"

#include <charconv>
#include <string_view>

namespace lameduck::lint {
namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `sleep 15`, `sleep 15s`, `sleep 1m`: GNU sleep's suffixes (s, m, h, d).
std::optional<double> sleep_argument(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc{} || value < 0) {
    return std::nullopt;
  }
  const std::string_view suffix(parsed.ptr, static_cast<std::size_t>(text.data() + text.size() - parsed.ptr));
  if (suffix.empty() || suffix == "s") {
    return value;
  }
  if (suffix == "m") {
    return value * 60;
  }
  if (suffix == "h") {
    return value * 3600;
  }
  if (suffix == "d") {
    return value * 86400;
  }
  return std::nullopt;
}

bool is_shell_separator(char c) {
  return c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == ' ' || c == '\t' || c == '\n';
}

// The longest `sleep N` in a shell script: a "sleep" word followed by blanks and a number.
// (A scan, not std::regex: its recursion overflows the stack on long scripts.)
std::optional<double> longest_sleep_in(const std::string& script) {
  std::optional<double> longest;
  for (std::size_t at = script.find("sleep"); at != std::string::npos; at = script.find("sleep", at + 1)) {
    if (at > 0 && !is_shell_separator(script[at - 1])) {
      continue;
    }
    std::size_t begin = at + 5;
    if (begin >= script.size() || (script[begin] != ' ' && script[begin] != '\t')) {
      continue;
    }
    while (begin < script.size() && (script[begin] == ' ' || script[begin] == '\t')) {
      ++begin;
    }
    std::size_t end = begin;
    while (end < script.size() && !is_shell_separator(script[end])) {
      ++end;
    }
    if (const auto seconds = sleep_argument(script.substr(begin, end - begin)); seconds && (!longest || *seconds > *longest)) {
      longest = seconds;
    }
  }
  return longest;
}

void read_duration(const std::string& text, Duration& target, bool* written = nullptr) {
  if (const auto duration = parse_duration(text)) {
    target = *duration;
    if (written != nullptr) {
      *written = true;
    }
  }
}

PrestopFlags read_prestop_flags(const std::vector<std::string>& argv) {
  PrestopFlags flags;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    std::string name = argv[i];
    std::optional<std::string> value;
    if (const auto equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    }
    if (name == "--hold-until-drained") {
      flags.hold_until_drained = !value || *value == "true";
      continue;
    }
    if (name != "--grace-period" && name != "--margin" && name != "--min-delay" && name != "--service") {
      continue;
    }
    if (!value && i + 1 < argv.size()) {
      value = argv[++i];
    }
    if (!value) {
      continue;
    }
    if (name == "--grace-period") {
      read_duration(*value, flags.grace_period, &flags.grace_period_written);
    } else if (name == "--service") {
      flags.services.push_back(*value);
    } else if (name == "--margin") {
      read_duration(*value, flags.margin);
    } else {
      read_duration(*value, flags.min_delay);
    }
  }
  return flags;
}

} // namespace

std::optional<HookCommand> read_hook_command(const nlohmann::json& exec_command) {
  if (!exec_command.is_array() || exec_command.empty()) {
    return std::nullopt;
  }
  HookCommand command;
  for (const auto& item : exec_command) {
    if (!item.is_string()) {
      return std::nullopt;
    }
    command.argv.push_back(item.get<std::string>());
  }
  const std::string program = base_name(command.argv[0]);
  if (program == "sh" || program == "bash" || program == "ash" || program == "dash" || program == "zsh" ||
      program == "ksh") {
    for (std::size_t i = 1; i < command.argv.size(); ++i) {
      const std::string& argument = command.argv[i];
      // -c, or a cluster of short options holding c (-ec, -xc).
      if (argument.size() >= 2 && argument[0] == '-' && argument[1] != '-' && argument.find('c') != std::string::npos) {
        command.shell = true;
        if (i + 1 < command.argv.size()) {
          command.sleep_seconds = longest_sleep_in(command.argv[i + 1]);
        }
        break;
      }
    }
  } else if (program == "sleep" && command.argv.size() == 2) {
    command.sleep_seconds = sleep_argument(command.argv[1]);
    command.plain_sleep = command.sleep_seconds.has_value();
  } else if (program == "prestop") {
    command.prestop = read_prestop_flags(command.argv);
  }
  return command;
}

} // namespace lameduck::lint

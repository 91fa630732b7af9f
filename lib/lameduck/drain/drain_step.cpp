#include "lameduck/drain/drain_step.hpp"

#include "lameduck/core/url.hpp"

#include <array>
#include <charconv>
#include <csignal>
#include <utility>

namespace lameduck {

namespace {

// The signals a graceful stop is asked with; KILL and STOP are left out on purpose: neither
// lets a process finish anything.
constexpr std::array<std::pair<std::string_view, int>, 9> k_signals{{{"HUP", SIGHUP},
                                                                     {"INT", SIGINT},
                                                                     {"QUIT", SIGQUIT},
                                                                     {"USR1", SIGUSR1},
                                                                     {"USR2", SIGUSR2},
                                                                     {"TERM", SIGTERM},
                                                                     {"WINCH", SIGWINCH},
                                                                     {"CONT", SIGCONT},
                                                                     {"PWR", SIGPWR}}};

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) {
      return out;
    }
    text.remove_prefix(comma + 1);
  }
}

Unexpected<Error> refuse(std::string_view text, const std::string& why) {
  return unexpected("--drain-step \"" + std::string(text) + "\": " + why);
}

} // namespace

std::string_view drain_step_kind_name(DrainStepKind kind) {
  switch (kind) {
  case DrainStepKind::url:
    return "url";
  case DrainStepKind::signal:
    return "signal";
  case DrainStepKind::exec:
    return "exec";
  }
  return "url";
}

std::optional<int> parse_signal_name(std::string_view text) {
  if (text.starts_with("SIG")) {
    text.remove_prefix(3);
  }
  for (const auto& [name, number] : k_signals) {
    if (text == name) {
      return number;
    }
  }
  int number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && error == std::errc{} && end == text.data() + text.size() && number > 0 && number < NSIG &&
      number != SIGKILL && number != SIGSTOP) {
    return number;
  }
  return std::nullopt;
}

Expected<DrainStep> parse_drain_step(std::string_view text) {
  DrainStep step;
  std::string_view body = text;
  // A timeout only where what follows the last '@' is a duration, so that a URL's user@host
  // stays part of the URL.
  if (const auto at = body.rfind('@'); at != std::string_view::npos) {
    if (const auto timeout = parse_duration(std::string(body.substr(at + 1)))) {
      if (timeout->count() <= 0) {
        return refuse(text, "a step's timeout must be positive");
      }
      step.timeout = *timeout;
      body = body.substr(0, at);
    }
  }
  const auto colon = body.find(':');
  if (colon == std::string_view::npos) {
    return refuse(text, "expected url:URL, signal:NAME:SIGNAL, signal:pidfile=PATH:SIGNAL or exec:PATH[,ARG]...");
  }
  const std::string_view kind = body.substr(0, colon);
  const std::string_view rest = body.substr(colon + 1);
  if (kind == "url") {
    step.kind = DrainStepKind::url;
    if (const auto url = parse_url(std::string(rest)); !url) {
      return refuse(text, url.error().message);
    }
    step.url = rest;
    return step;
  }
  if (kind == "signal") {
    step.kind = DrainStepKind::signal;
    const auto last = rest.rfind(':');
    if (last == std::string_view::npos || last == 0) {
      return refuse(text, "expected signal:NAME:SIGNAL or signal:pidfile=PATH:SIGNAL");
    }
    const std::string_view who = rest.substr(0, last);
    const std::string_view signal = rest.substr(last + 1);
    const auto number = parse_signal_name(signal);
    if (!number) {
      return refuse(text, "unknown signal \"" + std::string(signal) +
                              "\" (HUP, INT, QUIT, USR1, USR2, TERM, WINCH, CONT, PWR or a number; not KILL or STOP)");
    }
    step.signal_number = *number;
    step.signal_name = signal.starts_with("SIG") ? signal.substr(3) : signal;
    if (who.starts_with("pidfile=")) {
      step.pid_file = who.substr(8);
      if (step.pid_file.empty() || step.pid_file.front() != '/') {
        return refuse(text, "a pid file must be an absolute path");
      }
    } else if (who.find('/') != std::string_view::npos) {
      return refuse(text, "a process name has no '/'; a path is given as pidfile=PATH");
    } else {
      step.process_name = who;
    }
    return step;
  }
  if (kind == "exec") {
    step.kind = DrainStepKind::exec;
    step.argv = split_commas(rest);
    if (step.argv.front().empty() || step.argv.front().front() != '/') {
      return refuse(text, "exec needs an absolute path: no shell looks it up");
    }
    return step;
  }
  return refuse(text, "unknown kind \"" + std::string(kind) + "\" (url, signal or exec)");
}

std::string drain_step_target(const DrainStep& step) {
  switch (step.kind) {
  case DrainStepKind::url:
    return step.url;
  case DrainStepKind::signal:
    return step.pid_file.empty() ? step.process_name : "pidfile=" + step.pid_file;
  case DrainStepKind::exec: {
    std::string out;
    for (const auto& arg : step.argv) {
      out += (out.empty() ? "" : " ") + arg;
    }
    return out;
  }
  }
  return {};
}

} // namespace lameduck

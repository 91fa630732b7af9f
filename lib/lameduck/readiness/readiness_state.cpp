#include "lameduck/readiness/readiness_state.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/rfc3339.hpp"

#include <nlohmann/json.hpp>

namespace lameduck {

std::string readiness_state_json(const ReadinessState& state) {
  return nlohmann::ordered_json{{"ready", state.ready}, {"reason", state.reason}, {"since", state.since}}.dump();
}

Expected<ReadinessState> parse_readiness_state(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return unexpected(std::string("not a JSON object"));
  }
  const auto ready = json.find("ready");
  if (ready == json.end() || !ready->is_boolean()) {
    return unexpected(std::string("\"ready\" is missing or not a boolean"));
  }
  ReadinessState state{.ready = ready->get<bool>(), .reason = {}, .since = {}};
  if (const auto reason = json.find("reason"); reason != json.end() && reason->is_string()) {
    state.reason = reason->get<std::string>();
  }
  if (const auto since = json.find("since"); since != json.end() && since->is_string()) {
    state.since = since->get<std::string>();
  }
  return state;
}

ReadinessSwitch::ReadinessSwitch(std::string state_file, bool start_ready) : m_state_file(std::move(state_file)) {
  m_state = {.ready = start_ready,
             .reason = start_ready ? "ready since start" : "started not ready",
             .since = format_rfc3339(WallClock::now())};
  if (m_state_file.empty()) {
    return;
  }
  const auto read = read_small_file(m_state_file, 64 * 1024);
  if (read && read->missing) {
    return;
  }
  auto loaded = read ? parse_readiness_state(read->content) : unexpected(read.error());
  if (loaded) {
    m_state = std::move(*loaded);
    return;
  }
  m_load_problem = "state file " + m_state_file + " is unusable (" + loaded.error().message + ")";
  m_state = {.ready = false, .reason = "unusable state file", .since = format_rfc3339(WallClock::now())};
}

ReadinessState ReadinessSwitch::current() const {
  const std::lock_guard lock(m_mutex);
  return m_state;
}

ReadinessSwitch::Change ReadinessSwitch::set(bool ready, const std::string& reason) {
  const std::lock_guard lock(m_mutex);
  Change change;
  change.changed = m_state.ready != ready;
  if (change.changed || m_state.reason != reason) {
    m_state = {.ready = ready, .reason = reason, .since = change.changed ? format_rfc3339(WallClock::now()) : m_state.since};
    if (!m_state_file.empty()) {
      if (auto saved = write_file_atomically(m_state_file, readiness_state_json(m_state) + "\n"); !saved) {
        change.save_error = saved.error().message;
      }
    }
  }
  change.state = m_state;
  return change;
}

} // namespace lameduck

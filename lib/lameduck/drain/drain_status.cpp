#include "lameduck/drain/drain_status.hpp"

#include <nlohmann/json.hpp>

namespace lameduck {

std::string_view drain_state_name(DrainState state) {
  switch (state) {
  case DrainState::accepting:
    return "accepting";
  case DrainState::draining:
    return "draining";
  case DrainState::flushed:
    return "flushed";
  }
  return "unknown";
}

std::string drain_status_json(const DrainStatus& status) {
  return nlohmann::ordered_json{{"state", drain_state_name(status.state)}, {"inflight", status.inflight}}.dump();
}

Expected<DrainStatus> parse_drain_status(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return unexpected(std::string("the status is not a JSON object"));
  }
  const auto state = json.find("state");
  if (state == json.end() || !state->is_string()) {
    return unexpected(std::string(R"("state" is missing or not a string)"));
  }
  DrainStatus status;
  const auto& name = state->get_ref<const std::string&>();
  if (name == "accepting") {
    status.state = DrainState::accepting;
  } else if (name == "draining") {
    status.state = DrainState::draining;
  } else if (name == "flushed") {
    status.state = DrainState::flushed;
  } else {
    return unexpected("unknown state \"" + name.substr(0, 40) + "\"");
  }
  if (const auto inflight = json.find("inflight"); inflight != json.end()) {
    if (!inflight->is_number_integer() || inflight->get<long long>() < 0) {
      return unexpected(std::string(R"("inflight" is not a non-negative integer)"));
    }
    status.inflight = inflight->get<long long>();
  }
  return status;
}

} // namespace lameduck

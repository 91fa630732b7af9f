#include "lameduck/core/log.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <ctime>
#include <unistd.h>

namespace lameduck {

namespace {

constexpr std::string_view k_redacted = "[redacted]";

void write_to_stderr(std::string_view line) {
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) {
      return; // Nowhere left to report a failing stderr.
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

LogFields redacted(const LogFields& fields) {
  if (!fields.is_object()) {
    return fields;
  }
  LogFields out = LogFields::object();
  for (const auto& [key, value] : fields.items()) {
    out[key] = is_secret_field_name(key) ? LogFields(k_redacted) : redacted(value);
  }
  return out;
}

std::string text_value(const LogFields& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    const bool needs_quotes = text.empty() || text.find_first_of(" \"=") != std::string::npos;
    return needs_quotes ? value.dump(-1, ' ', false, LogFields::error_handler_t::replace) : text;
  }
  return value.dump(-1, ' ', false, LogFields::error_handler_t::replace);
}

} // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
  case LogLevel::debug:
    return "debug";
  case LogLevel::info:
    return "info";
  case LogLevel::warn:
    return "warn";
  case LogLevel::error:
    return "error";
  }
  return "info";
}

bool is_secret_field_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  constexpr std::array k_markers{"token", "authorization", "password", "secret", "cert", "private_key", "privatekey"};
  return std::any_of(k_markers.begin(), k_markers.end(),
                     [&](const char* marker) { return lower.find(marker) != std::string::npos; });
}

std::string utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 40> buffer{};
  const std::size_t length = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::array<char, 8> fraction{};
  std::snprintf(fraction.data(), fraction.size(), ".%03dZ", static_cast<int>(millis));
  return std::string(buffer.data(), length) + fraction.data();
}

Logger::Logger(std::string tool, LogFormat format, LogLevel threshold, Sink sink)
    : m_tool(std::move(tool)), m_format(format), m_threshold(threshold),
      m_sink(sink ? std::move(sink) : Sink{write_to_stderr}) {}

std::string Logger::write(LogLevel level, std::string_view event, std::string_view msg,
                          const LogFields& fields) const {
  if (level < m_threshold) {
    return {};
  }
  std::string line = render(level, event, msg, fields);
  const std::lock_guard lock(m_mutex);
  m_sink(line);
  return line;
}

std::string Logger::render(LogLevel level, std::string_view event, std::string_view msg,
                           const LogFields& fields) const {
  const LogFields safe_fields = redacted(fields);
  std::string line;
  if (m_format == LogFormat::json) {
    LogFields record = LogFields::object();
    record["ts"] = utc_timestamp_now();
    record["level"] = log_level_name(level);
    record["tool"] = m_tool;
    record["event"] = event;
    for (const auto& [key, value] : safe_fields.items()) {
      record[key] = value;
    }
    record["msg"] = msg;
    // Replace invalid UTF-8 rather than throw: a hostile peer's bytes must not kill the logger.
    line = record.dump(-1, ' ', false, LogFields::error_handler_t::replace);
  } else {
    line = utc_timestamp_now() + " " + std::string(log_level_name(level)) + " " + m_tool + " " + std::string(event);
    line += ": ";
    line += msg;
    for (const auto& [key, value] : safe_fields.items()) {
      line += " " + key + "=" + text_value(value);
    }
  }
  line += '\n';
  return line;
}

} // namespace lameduck

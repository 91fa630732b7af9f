#pragma once

// Structured logs: one JSON object per line on stderr (or one readable line with the text
// format). Fields that could carry a secret are redacted by name, whoever passes them.

#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace lameduck {

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { json, text };

using LogFields = nlohmann::ordered_json;

class Logger {
public:
  // Receives one whole line, newline included; the default writes it to stderr in one write(2)
  // so that lines from concurrent threads or processes never interleave.
  using Sink = std::function<void(std::string_view line)>;

  explicit Logger(std::string tool, LogFormat format = LogFormat::json, LogLevel threshold = LogLevel::info,
                  Sink sink = {});

  void debug(std::string_view event, std::string_view msg, const LogFields& fields = LogFields::object()) const {
    write(LogLevel::debug, event, msg, fields);
  }
  void info(std::string_view event, std::string_view msg, const LogFields& fields = LogFields::object()) const {
    write(LogLevel::info, event, msg, fields);
  }
  void warn(std::string_view event, std::string_view msg, const LogFields& fields = LogFields::object()) const {
    write(LogLevel::warn, event, msg, fields);
  }
  void error(std::string_view event, std::string_view msg, const LogFields& fields = LogFields::object()) const {
    write(LogLevel::error, event, msg, fields);
  }

  // Returns the line written, or nothing when the level is below the threshold.
  std::string write(LogLevel level, std::string_view event, std::string_view msg, const LogFields& fields) const;

  // The line write() would emit, newline included, for copies that go elsewhere too.
  std::string render(LogLevel level, std::string_view event, std::string_view msg, const LogFields& fields) const;

  const std::string& tool() const { return m_tool; }

private:
  std::string m_tool;
  LogFormat m_format;
  LogLevel m_threshold;
  Sink m_sink;
  mutable std::mutex m_mutex;
};

// "2026-11-23T10:00:00.123Z": the wall clock, for humans and log pipelines (never for waiting).
std::string utc_timestamp_now();

// True for field names that may hold a credential: token, authorization, password, secret,
// certificate and private keys, in any case.
bool is_secret_field_name(std::string_view name);

std::string_view log_level_name(LogLevel level);

} // namespace lameduck

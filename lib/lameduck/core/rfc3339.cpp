#include "lameduck/core/rfc3339.hpp"

#include <cstdio>

namespace lameduck {

namespace {

bool read_digits(std::string_view& text, std::size_t count, int& out) {
  if (text.size() < count) {
    return false;
  }
  out = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  text.remove_prefix(count);
  return true;
}

bool expect(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) {
    return false;
  }
  text.remove_prefix(1);
  return true;
}

} // namespace

Expected<WallClock::time_point> parse_rfc3339(std::string_view text) {
  const auto invalid = [&] {
    return unexpected("invalid RFC 3339 timestamp \"" + std::string(text) + "\": expected 2026-11-23T10:02:41Z");
  };
  std::string_view rest = text;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(rest, 4, year) || !expect(rest, '-') || !read_digits(rest, 2, month) || !expect(rest, '-') ||
      !read_digits(rest, 2, day) || rest.empty() || (rest.front() != 'T' && rest.front() != 't')) {
    return invalid();
  }
  rest.remove_prefix(1);
  if (!read_digits(rest, 2, hour) || !expect(rest, ':') || !read_digits(rest, 2, minute) || !expect(rest, ':') ||
      !read_digits(rest, 2, second)) {
    return invalid();
  }
  std::chrono::nanoseconds fraction{0};
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    long long scale = 100'000'000;
    std::size_t digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      fraction += std::chrono::nanoseconds{(rest.front() - '0') * scale};
      scale /= 10;
      rest.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) {
      return invalid();
    }
  }
  std::chrono::minutes offset{0};
  if (!rest.empty() && (rest.front() == 'Z' || rest.front() == 'z')) {
    rest.remove_prefix(1);
  } else if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    const int sign = rest.front() == '-' ? -1 : 1;
    rest.remove_prefix(1);
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!read_digits(rest, 2, offset_hours) || !expect(rest, ':') || !read_digits(rest, 2, offset_minutes)) {
      return invalid();
    }
    offset = std::chrono::minutes{sign * (offset_hours * 60 + offset_minutes)};
  } else {
    return invalid();
  }
  if (!rest.empty()) {
    return invalid();
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  // 60 allows a leap second, which Kubernetes never writes but RFC 3339 permits.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return invalid();
  }
  const auto local = std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
                     std::chrono::seconds{second} + fraction;
  return std::chrono::time_point_cast<WallClock::duration>(local - offset);
}

std::string format_rfc3339(WallClock::time_point when) {
  const auto millis = std::chrono::floor<std::chrono::milliseconds>(when);
  const auto days = std::chrono::floor<std::chrono::days>(millis);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss time{millis - days};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
  return buffer;
}

} // namespace lameduck

#include "lameduck/core/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace lameduck {

namespace {

struct Unit {
  std::string_view name;
  std::uint64_t nanoseconds;
};

// Longest names first where one is a prefix of another ("ms" before "m").
constexpr std::array k_units{
    Unit{"ns", 1},
    Unit{"us", 1'000},
    Unit{"\u00b5s", 1'000}, // micro sign, as Go prints it
    Unit{"\u03bcs", 1'000}, // Greek mu, as Go also accepts
    Unit{"ms", 1'000'000},
    Unit{"s", 1'000'000'000},
    Unit{"m", 60'000'000'000},
    Unit{"h", 3'600'000'000'000},
};

constexpr std::uint64_t k_max_magnitude = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string invalid(std::string_view text) {
  return "invalid duration \"" + std::string(text) + "\": use a number and a unit, like 250ms, 30s, 1m30s or 2h";
}

} // namespace

Expected<Duration> parse_duration(std::string_view text) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") {
    return Duration::zero();
  }
  if (rest.empty()) {
    return unexpected(invalid(text));
  }

  // A bare integer is seconds.
  bool all_digits = true;
  for (char c : rest) {
    all_digits = all_digits && is_digit(c);
  }
  if (all_digits && rest.size() <= 12) {
    std::int64_t seconds = 0;
    for (char c : rest) {
      seconds = seconds * 10 + (c - '0');
    }
    // In nanoseconds, as Go keeps durations, about 292 years is the most there is.
    if (static_cast<std::uint64_t>(seconds) > k_max_magnitude / 1'000'000'000) {
      return unexpected(invalid(text));
    }
    return Duration{(negative ? -seconds : seconds) * 1'000'000'000};
  }

  std::uint64_t total = 0;
  while (!rest.empty()) {
    // The integer part, then an optional fraction, then a unit.
    std::uint64_t whole = 0;
    std::size_t whole_digits = 0;
    while (!rest.empty() && is_digit(rest.front())) {
      if (whole > (k_max_magnitude - 9) / 10) {
        return unexpected(invalid(text));
      }
      whole = whole * 10 + static_cast<std::uint64_t>(rest.front() - '0');
      rest.remove_prefix(1);
      ++whole_digits;
    }
    std::uint64_t fraction = 0;
    std::uint64_t fraction_scale = 1;
    std::size_t fraction_digits = 0;
    if (!rest.empty() && rest.front() == '.') {
      rest.remove_prefix(1);
      while (!rest.empty() && is_digit(rest.front())) {
        // Digits beyond nanosecond precision of an hour cannot matter; drop them.
        if (fraction_scale < 1'000'000'000'000'000ULL) {
          fraction = fraction * 10 + static_cast<std::uint64_t>(rest.front() - '0');
          fraction_scale *= 10;
        }
        rest.remove_prefix(1);
        ++fraction_digits;
      }
    }
    if (whole_digits == 0 && fraction_digits == 0) {
      return unexpected(invalid(text));
    }

    std::size_t unit_length = 0;
    while (unit_length < rest.size() && !is_digit(rest[unit_length]) && rest[unit_length] != '.') {
      ++unit_length;
    }
    const std::string_view unit_name = rest.substr(0, unit_length);
    if (unit_name.empty()) {
      return unexpected("missing unit in duration \"" + std::string(text) +
                        "\": write 30s, not 30.5; a bare number means seconds only when whole");
    }
    const Unit* unit = nullptr;
    for (const Unit& candidate : k_units) {
      if (candidate.name == unit_name) {
        unit = &candidate;
      }
    }
    if (unit == nullptr) {
      return unexpected("unknown unit \"" + std::string(unit_name) + "\" in duration \"" + std::string(text) +
                        "\": use ns, us, ms, s, m or h");
    }
    rest.remove_prefix(unit_length);

    if (whole > k_max_magnitude / unit->nanoseconds) {
      return unexpected(invalid(text));
    }
    std::uint64_t value = whole * unit->nanoseconds;
    value += static_cast<std::uint64_t>(static_cast<long double>(fraction) * static_cast<long double>(unit->nanoseconds) /
                                        static_cast<long double>(fraction_scale));
    if (value > k_max_magnitude - total) {
      return unexpected(invalid(text));
    }
    total += value;
  }
  const auto signed_total = static_cast<std::int64_t>(total);
  return Duration{negative ? -signed_total : signed_total};
}

namespace {

// Appends value / scale with its fraction, trailing zeros trimmed: (1500, 1000) -> "1.5".
void append_scaled(std::string& out, std::uint64_t value, std::uint64_t scale) {
  out += std::to_string(value / scale);
  std::uint64_t remainder = value % scale;
  if (remainder == 0) {
    return;
  }
  std::string fraction;
  for (std::uint64_t digit_scale = scale / 10; digit_scale > 0; digit_scale /= 10) {
    fraction += static_cast<char>('0' + remainder / digit_scale);
    remainder %= digit_scale;
  }
  while (!fraction.empty() && fraction.back() == '0') {
    fraction.pop_back();
  }
  out += '.';
  out += fraction;
}

} // namespace

std::string format_duration(Duration duration) {
  const std::int64_t count = duration.count();
  if (count == 0) {
    return "0s";
  }
  std::string out = count < 0 ? "-" : "";
  // Negating INT64_MIN overflows; go through unsigned arithmetic instead.
  const std::uint64_t magnitude = count < 0 ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);

  if (magnitude < 1'000) {
    return out + std::to_string(magnitude) + "ns";
  }
  if (magnitude < 1'000'000) {
    append_scaled(out, magnitude, 1'000);
    return out + "\u00b5s";
  }
  if (magnitude < 1'000'000'000) {
    append_scaled(out, magnitude, 1'000'000);
    return out + "ms";
  }
  const std::uint64_t hours = magnitude / 3'600'000'000'000;
  const std::uint64_t minutes = magnitude / 60'000'000'000 % 60;
  const std::uint64_t nanoseconds = magnitude % 60'000'000'000;
  if (hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (hours > 0 || minutes > 0) {
    out += std::to_string(minutes) + "m";
  }
  append_scaled(out, nanoseconds, 1'000'000'000);
  return out + "s";
}

} // namespace lameduck

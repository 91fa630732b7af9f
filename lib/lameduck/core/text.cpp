#include "lameduck/core/text.hpp"

#include <string_view>

namespace lameduck {

std::string trim_blanks(std::string text) {
  constexpr std::string_view k_blanks = " \t\r\n";
  const auto last = text.find_last_not_of(k_blanks);
  if (last == std::string::npos) {
    return {};
  }
  text.erase(last + 1);
  text.erase(0, text.find_first_not_of(k_blanks));
  return text;
}

std::string trim_line_ends(std::string text) {
  const auto last = text.find_last_not_of("\r\n");
  text.erase(last == std::string::npos ? 0 : last + 1);
  return text;
}

} // namespace lameduck

#include "lameduck/core/text.hpp"

#include <doctest/doctest.h>

using lameduck::trim_blanks;
using lameduck::trim_line_ends;

TEST_CASE("trim_blanks") {
  CHECK(trim_blanks(" \tuid-1 \r\n") == "uid-1");
  CHECK(trim_blanks("10.0.0.7") == "10.0.0.7");
  CHECK(trim_blanks(" \r\n\t ") == "");
  CHECK(trim_blanks("") == "");
  CHECK(trim_blanks("a b") == "a b");
}

TEST_CASE("trim_line_ends") {
  CHECK(trim_line_ends("correct horse \n") == "correct horse "); // a password's spaces are its own
  CHECK(trim_line_ends("not found\r\n\r\n") == "not found");
  CHECK(trim_line_ends("\n\n") == "");
  CHECK(trim_line_ends("  two\nlines") == "  two\nlines");
}

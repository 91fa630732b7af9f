#define DOCTEST_CONFIG_IMPLEMENT
#include "lameduck/core/signals.hpp"

#include <doctest/doctest.h>

int main(int argc, char** argv) {
  // As in every tool: the tests talk to peers that hang up on purpose.
  lameduck::ignore_sigpipe();
  return doctest::Context(argc, argv).run();
}

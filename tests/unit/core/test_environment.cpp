#include "lameduck/core/environment.hpp"

#include <doctest/doctest.h>

TEST_CASE("expand_references, as the kubelet expands a container's command") {
  const auto environment = lameduck::fixed_environment({{"POD_NAME", "ledger-agent-7d9c5"}, {"NS", "agents"}});
  const auto expand = [&](const std::string& text) { return lameduck::expand_references(text, environment); };
  CHECK(expand("services/$(NS)/$(POD_NAME)") == "services/agents/ledger-agent-7d9c5");
  CHECK(expand("no references") == "no references");
  CHECK(expand("$(UNSET) stays") == "$(UNSET) stays");
  CHECK(expand("$$(POD_NAME) is escaped") == "$(POD_NAME) is escaped");
  CHECK(expand("a lone $ and $(unclosed") == "a lone $ and $(unclosed");
  CHECK(expand("ends in $") == "ends in $");
}

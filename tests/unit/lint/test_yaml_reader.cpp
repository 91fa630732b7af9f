#include "lameduck/lint/yaml_reader.hpp"

#include <doctest/doctest.h>

using lameduck::lint::position_of;
using lameduck::lint::read_yaml_stream;

TEST_CASE("read_yaml_stream") {
  SUBCASE("documents, their fields' places, and YAML 1.2's plain scalars") {
    const auto documents = read_yaml_stream("# a comment\n"
                                            "---\n"
                                            "kind: Pod\n"
                                            "spec:\n"
                                            "  replicas: 3\n"
                                            "  ratio: 0.5\n"
                                            "  on: true\n"
                                            "  quoted: \"3\"\n"
                                            "  empty:\n"
                                            "  list: [a, ~]\n"
                                            "---\n"
                                            "---\n"
                                            "kind: Service\n");
    REQUIRE(documents.size() == 2);
    const auto& pod = *documents[0].root;
    CHECK(pod["spec"]["replicas"] == 3);
    CHECK(pod["spec"]["ratio"] == 0.5);
    CHECK(pod["spec"]["on"] == true);
    CHECK(pod["spec"]["quoted"] == "3");
    CHECK(pod["spec"]["empty"].is_null());
    CHECK(pod["spec"]["list"] == nlohmann::json::array({"a", nullptr}));
    CHECK(position_of(documents[0], "/spec/replicas").line == 5);
    CHECK(position_of(documents[0], "/spec/replicas").column == 3);
    CHECK(position_of(documents[0], "/spec/list/1").line == 10);
    CHECK(position_of(documents[0], "/spec/missing/deeper").line == 4);  // the nearest parent
    CHECK(documents[1].index == 1);
    CHECK((*documents[1].root)["kind"] == "Service");
    CHECK(documents[1].start.line == 12);
  }
  SUBCASE("a broken document costs only itself, and names its line and column") {
    const auto documents = read_yaml_stream("kind: A\n---\nkind: [B\n---\nkind: C\n");
    REQUIRE(documents.size() == 3);
    CHECK((*documents[0].root)["kind"] == "A");
    REQUIRE(documents[1].error);
    CHECK(documents[1].error->at.line >= 3);
    CHECK((*documents[2].root)["kind"] == "C");
  }
  SUBCASE("duplicate keys and non-scalar keys are errors") {
    const auto duplicate = read_yaml_stream("a: 1\nb: 2\na: 3\n");
    REQUIRE(duplicate.size() == 1);
    REQUIRE(duplicate[0].error);
    CHECK(duplicate[0].error->message == "duplicate key \"a\" (first at line 1)");
    CHECK(duplicate[0].error->at.line == 3);
    const auto complex = read_yaml_stream("? [a, b]\n: 1\n");
    REQUIRE(complex[0].error);
    CHECK(complex[0].error->message == "a mapping key that is not a scalar");
  }
  SUBCASE("aliases and merge keys resolve; explicit keys win over merged ones") {
    const auto documents = read_yaml_stream("base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  b: 3\ncopy: *base\n");
    const auto& root = *documents[0].root;
    CHECK(root["use"] == nlohmann::json{{"a", 1}, {"b", 3}});
    CHECK(root["copy"] == nlohmann::json{{"a", 1}, {"b", 2}});
  }
  SUBCASE("aliases that expand past the node bound are an error, not a blow-up") {
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i) {
      const std::string previous = "*a" + std::to_string(i - 1);
      bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
      for (int j = 0; j < 10; ++j) {
        bomb += (j ? ", " : "") + previous;
      }
      bomb += "]\n";
    }
    const auto documents = read_yaml_stream(bomb, {.max_nodes = 100'000});
    REQUIRE(documents[0].error);
    CHECK(documents[0].error->message == "more than 100000 nodes once aliases are expanded");
  }
  SUBCASE("deep nesting is stopped by the reader's guard") {
    const auto documents = read_yaml_stream("a: " + std::string(100'000, '[') + std::string(100'000, ']') + "\n");
    REQUIRE(documents[0].error);
    CHECK(documents[0].error->message.starts_with("nested too deeply"));
  }
  SUBCASE("a tab where indentation belongs says so") {
    const auto documents = read_yaml_stream("a:\n\tb: 1\n");
    REQUIRE(documents[0].error);
    CHECK(documents[0].error->message.find("a tab indents this line") != std::string::npos);
  }
  SUBCASE("JSON is YAML") {
    const auto documents = read_yaml_stream("{\"kind\": \"Pod\", \"spec\": {\"n\": [1, 2.5, null, \"x\"]}}");
    CHECK((*documents[0].root)["spec"]["n"] == nlohmann::json::array({1, 2.5, nullptr, "x"}));
  }
  SUBCASE("blank and comment-only documents are left out") {
    CHECK(read_yaml_stream("").empty());
    CHECK(read_yaml_stream("# nothing\n---\n\n---\n").empty());
  }
}

#pragma once

// Reads a stream of YAML (or JSON) documents, as `helm template` and `kustomize build` print
// them, into JSON values with the line and column of every field, for the linter. Each
// document is parsed on its own, so that a syntax error costs only its document. What YAML
// allows but a Kubernetes manifest never needs, and what would make a reader crash or loop, is
// an error naming the line: duplicate keys, keys that are not scalars, aliases that expand
// beyond a bound, nesting deeper than yaml-cpp's guard.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck::lint {

// 1-based, as editors and SARIF count.
struct Position {
  int line = 1;
  int column = 1;
};

struct YamlError {
  Position at;
  std::string message;
};

struct YamlDocument {
  int index = 0;   // 0-based, in the stream
  Position start;  // of its first line
  std::optional<nlohmann::json> root;         // absent when `error` is set
  std::optional<YamlError> error;
  std::map<std::string, Position> positions;  // JSON pointer ("/spec/replicas") -> the key's place
};

struct YamlLimits {
  // Nodes in one document once aliases are expanded: a "billion laughs" stays a small error.
  std::size_t max_nodes = 1'000'000;
};

// Documents that hold only comments or blanks are left out.
std::vector<YamlDocument> read_yaml_stream(std::string_view text, const YamlLimits& limits = {});

// The place recorded for `pointer`, else for its nearest parent that has one, else the
// document's start.
Position position_of(const YamlDocument& document, const std::string& pointer);

// "/" + the key, escaped as RFC 6901 asks ("~" -> "~0", "/" -> "~1").
std::string pointer_child(const std::string& parent, std::string_view key);
std::string pointer_child(const std::string& parent, std::size_t index);

} // namespace lameduck::lint

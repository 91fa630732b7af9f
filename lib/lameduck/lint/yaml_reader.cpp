#include "lameduck/lint/yaml_reader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace lameduck::lint {
namespace {

using nlohmann::json;

struct Failure {
  Position at;
  std::string message;
};

// YAML 1.2's core schema for plain (unquoted, untagged) scalars, which is what Kubernetes'
// decoder agrees with for every field a manifest uses.
json resolve_plain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const char* digits = (*begin == '+' || *begin == '-') ? begin + 1 : begin;
  if (digits != end && std::isdigit(static_cast<unsigned char>(*digits))) {
    long long integer = 0;
    const auto parsed = std::from_chars(*begin == '+' ? begin + 1 : begin, end, integer);
    if (parsed.ec == std::errc{} && parsed.ptr == end) {
      return integer;
    }
  }
  if (digits != end && (std::isdigit(static_cast<unsigned char>(*digits)) || *digits == '.')) {
    double number = 0;
    const auto parsed = std::from_chars(*begin == '+' ? begin + 1 : begin, end, number);
    if (parsed.ec == std::errc{} && parsed.ptr == end && std::isfinite(number)) {
      return number;
    }
  }
  return text;
}

json resolve_scalar(const std::string& tag, const std::string& value) {
  // "?" is a plain scalar; "!" a quoted or block one, always a string; an explicit !!str too.
  if (tag == "?") {
    return resolve_plain(value);
  }
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
      tag == "tag:yaml.org,2002:null") {
    return resolve_plain(value);
  }
  return value;
}

class JsonBuilder : public YAML::EventHandler {
public:
  JsonBuilder(YamlDocument& document, int line_offset, const YamlLimits& limits)
      : m_document(document), m_line_offset(line_offset), m_limits(limits) {}

  bool has_root() const { return m_root.has_value(); }
  json take_root() { return std::move(*m_root); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (expects_key()) {
      throw Failure{position(mark), "a mapping key that is empty"};
    }
    count(1, mark);
    deliver(nullptr, position(mark), anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto found = m_anchors.find(anchor);
    if (found == m_anchors.end()) {
      throw Failure{position(mark), "an alias to an unknown anchor"};
    }
    if (expects_key()) {
      throw Failure{position(mark), "an alias used as a mapping key"};
    }
    count(found->second.nodes, mark);
    deliver(found->second.value, position(mark), 0, 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    count(1, mark);
    if (expects_key()) {
      m_stack.back().key = value;
      m_stack.back().key_at = position(mark);
      return;
    }
    deliver(resolve_scalar(tag, value), position(mark), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, json::array());
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, json::object());
  }
  void OnMapEnd() override { close(); }

private:
  struct Frame {
    json value;
    std::string pointer;
    Position at;
    YAML::anchor_t anchor = 0;
    std::size_t nodes_before = 0;
    std::optional<std::string> key;
    Position key_at;
    std::vector<json> merges;  // "<<: *base": merged after the explicit keys, which win
  };
  struct Anchored {
    json value;
    std::size_t nodes = 0;
  };

  Position position(const YAML::Mark& mark) const {
    return {mark.line + 1 + m_line_offset, mark.column + 1};
  }

  bool expects_key() const { return !m_stack.empty() && m_stack.back().value.is_object() && !m_stack.back().key; }

  void count(std::size_t nodes, const YAML::Mark& mark) {
    m_nodes += nodes;
    if (m_nodes > m_limits.max_nodes) {
      throw Failure{position(mark), "more than " + std::to_string(m_limits.max_nodes) +
                                        " nodes once aliases are expanded"};
    }
  }

  std::string child_pointer() const {
    if (m_stack.empty()) {
      return "";
    }
    const Frame& parent = m_stack.back();
    return parent.value.is_object() ? pointer_child(parent.pointer, *parent.key)
                                    : pointer_child(parent.pointer, parent.value.size());
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, json empty) {
    if (expects_key()) {
      throw Failure{position(mark), "a mapping key that is not a scalar"};
    }
    count(1, mark);
    m_stack.push_back(Frame{std::move(empty), child_pointer(), position(mark), anchor, m_nodes - 1, {}, {}, {}});
  }

  void close() {
    Frame frame = std::move(m_stack.back());
    m_stack.pop_back();
    for (const json& merged : frame.merges) {
      for (const auto& [key, value] : merged.items()) {
        if (!frame.value.contains(key)) {
          frame.value[key] = value;
        }
      }
    }
    deliver(std::move(frame.value), frame.at, frame.anchor, m_nodes - frame.nodes_before);
  }

  void deliver(json value, Position at, YAML::anchor_t anchor, std::size_t nodes) {
    if (anchor != 0) {
      m_anchors[anchor] = Anchored{value, nodes};
    }
    if (m_stack.empty()) {
      m_root = std::move(value);
      return;
    }
    Frame& parent = m_stack.back();
    if (parent.value.is_array()) {
      m_document.positions[pointer_child(parent.pointer, parent.value.size())] = at;
      parent.value.push_back(std::move(value));
      return;
    }
    std::string key = std::move(*parent.key);
    parent.key.reset();
    if (key == "<<") {
      add_merge(parent, std::move(value), at);
      return;
    }
    const std::string pointer = pointer_child(parent.pointer, key);
    if (parent.value.contains(key)) {
      const Position first = m_document.positions[pointer];
      throw Failure{parent.key_at, "duplicate key \"" + key + "\" (first at line " + std::to_string(first.line) + ")"};
    }
    m_document.positions[pointer] = parent.key_at;
    parent.value[key] = std::move(value);
  }

  static void add_merge(Frame& parent, json value, Position at) {
    if (value.is_object()) {
      parent.merges.push_back(std::move(value));
      return;
    }
    if (value.is_array()) {
      for (json& item : value) {
        if (!item.is_object()) {
          throw Failure{at, "a merge key (<<) whose list holds something other than mappings"};
        }
        parent.merges.push_back(std::move(item));
      }
      return;
    }
    throw Failure{at, "a merge key (<<) whose value is not a mapping"};
  }

  YamlDocument& m_document;
  int m_line_offset;
  const YamlLimits& m_limits;
  std::vector<Frame> m_stack;
  std::unordered_map<YAML::anchor_t, Anchored> m_anchors;
  std::optional<json> m_root;
  std::size_t m_nodes = 0;
};

bool is_document_marker(std::string_view line) {
  return line.substr(0, 3) == "---" && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

struct Chunk {
  std::string_view text;
  int first_line = 0;  // 0-based
};

// Split on "---" at the start of a line: inside a block scalar such a line would be indented,
// so a marker at column 0 always ends a document.
std::vector<Chunk> split_documents(std::string_view text) {
  std::vector<Chunk> chunks;
  std::size_t chunk_start = 0;
  int chunk_line = 0;
  int line = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    const std::size_t line_end = end == std::string_view::npos ? text.size() : end;
    if (at != chunk_start && is_document_marker(text.substr(at, line_end - at))) {
      chunks.push_back({text.substr(chunk_start, at - chunk_start), chunk_line});
      chunk_start = at;
      chunk_line = line;
    }
    at = end == std::string_view::npos ? text.size() : end + 1;
    ++line;
  }
  chunks.push_back({text.substr(chunk_start), chunk_line});
  return chunks;
}

// yaml-cpp's message for a tab where indentation belongs says nothing of tabs.
std::string tab_hint(std::string_view text, int line) {
  std::size_t at = 0;
  for (int i = 1; i < line && at != std::string_view::npos; ++i) {
    at = text.find('\n', at);
    at = at == std::string_view::npos ? at : at + 1;
  }
  if (at == std::string_view::npos) {
    return "";
  }
  const std::string_view content = text.substr(at, text.find('\n', at) - at);
  const auto indent = content.find_first_not_of(' ');
  return indent != std::string_view::npos && content[indent] == '\t' ? " (a tab indents this line: YAML indents with spaces only)"
                                                                       : "";
}

} // namespace

std::string pointer_child(const std::string& parent, std::string_view key) {
  std::string pointer = parent + "/";
  for (const char c : key) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

std::string pointer_child(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

std::vector<YamlDocument> read_yaml_stream(std::string_view text, const YamlLimits& limits) {
  std::vector<YamlDocument> documents;
  for (const Chunk& chunk : split_documents(text)) {
    YamlDocument document;
    document.index = static_cast<int>(documents.size());
    document.start = {chunk.first_line + 1, 1};
    std::istringstream stream{std::string(chunk.text)};
    JsonBuilder builder(document, chunk.first_line, limits);
    try {
      YAML::Parser parser(stream);
      while (parser.HandleNextDocument(builder)) {
        // A "..." end marker followed by more content: one chunk, more documents. The last one wins
        // here; a manifest stream separates its documents with "---".
      }
      if (!builder.has_root()) {
        continue;
      }
      document.root = builder.take_root();
      if (document.root->is_null()) {
        continue;
      }
    } catch (const Failure& failure) {
      document.error = YamlError{failure.at, failure.message};
      document.positions.clear();
    } catch (const YAML::DeepRecursion& exception) {
      document.error = YamlError{{exception.mark.line + 1 + chunk.first_line, exception.mark.column + 1},
                                 "nested too deeply (" + std::to_string(exception.depth()) + " levels)"};
      document.positions.clear();
    } catch (const YAML::Exception& exception) {
      const Position at{std::max(exception.mark.line, 0) + 1 + chunk.first_line, std::max(exception.mark.column, 0) + 1};
      document.error = YamlError{at, exception.msg + tab_hint(chunk.text, at.line - chunk.first_line)};
      document.positions.clear();
    }
    documents.push_back(std::move(document));
  }
  return documents;
}

Position position_of(const YamlDocument& document, const std::string& pointer) {
  std::string at = pointer;
  while (!at.empty()) {
    if (const auto found = document.positions.find(at); found != document.positions.end()) {
      return found->second;
    }
    at.erase(at.rfind('/'));
  }
  return document.start;
}

} // namespace lameduck::lint

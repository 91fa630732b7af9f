#pragma once

// The Kubernetes objects in the linter's input: files, directories (their *.yaml, *.yml and
// *.json, recursively, in name order) and "-" for standard input; `kind: List` is opened up.
// What cannot be read as Kubernetes objects is an input error, naming the file and the line.

#include "lameduck/lint/yaml_reader.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace lameduck::lint {

struct ManifestObject {
  std::string file;
  std::shared_ptr<const YamlDocument> document;  // for positions
  std::string pointer;                            // of the object in its document ("" or "/items/3")
  const nlohmann::json* object = nullptr;         // inside *document
  std::string kind;
  std::string name;
  std::string namespace_name;                     // "" when the manifest leaves it to the client

  // "Deployment payments/my-agent", or without the namespace when none is written.
  std::string display_name() const;
  // The place of a field given by its JSON pointer from the object ("/spec/replicas").
  Position position_of(const std::string& relative_pointer) const;
  const nlohmann::json& json() const { return *object; }
};

struct InputError {
  std::string file;
  Position at;
  std::string message;
};

struct Manifests {
  std::vector<ManifestObject> objects;
  std::vector<InputError> errors;
};

struct ReadLimits {
  std::size_t max_file_bytes = 16 * 1024 * 1024;
  YamlLimits yaml;
};

// `sources` as given on the command line; `stdin_stream` stands for "-", reported as "stdin".
Manifests read_manifests(const std::vector<std::string>& sources, std::istream& stdin_stream,
                         const ReadLimits& limits = {});

// One named text, for tests and fuzzing.
void add_manifest_text(Manifests& manifests, const std::string& file, std::string_view text,
                       const YamlLimits& limits = {});

} // namespace lameduck::lint

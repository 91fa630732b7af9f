#include "lameduck/lint/manifest.hpp"

#include "lameduck/lint/workload.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace lameduck::lint {
namespace {

namespace fs = std::filesystem;

void add_object(Manifests& manifests, const std::string& file, const std::shared_ptr<const YamlDocument>& document,
                const nlohmann::json& object, const std::string& pointer) {
  const Position at = position_of(*document, pointer);
  if (!object.is_object()) {
    manifests.errors.push_back({file, at, "a document that is not a mapping (a Kubernetes object is one)"});
    return;
  }
  const std::string kind = string_at(object, "kind");
  if (kind.empty() || string_at(object, "apiVersion").empty()) {
    manifests.errors.push_back({file, at, "not a Kubernetes object: no apiVersion and kind"});
    return;
  }
  if (kind == "List" || (kind.size() > 4 && kind.ends_with("List") && object.contains("items"))) {
    const auto items = object.find("items");
    if (items == object.end() || !items->is_array()) {
      manifests.errors.push_back({file, at, "a " + kind + " without a list of items"});
      return;
    }
    for (std::size_t i = 0; i < items->size(); ++i) {
      add_object(manifests, file, document, (*items)[i], pointer_child(pointer_child(pointer, "items"), i));
    }
    return;
  }
  ManifestObject entry;
  entry.file = file;
  entry.document = document;
  entry.pointer = pointer;
  entry.object = &object;
  entry.kind = kind;
  if (const auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    entry.name = string_at(*metadata, "name");
    entry.namespace_name = string_at(*metadata, "namespace");
  }
  manifests.objects.push_back(std::move(entry));
}

bool is_manifest_file(const fs::path& path) {
  const auto extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

void add_file(Manifests& manifests, const fs::path& path, const ReadLimits& limits) {
  const std::string file = path.string();
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) {
    manifests.errors.push_back({file, {1, 1}, "cannot read: " + error.message()});
    return;
  }
  if (size > limits.max_file_bytes) {
    manifests.errors.push_back({file, {1, 1}, "larger than " + std::to_string(limits.max_file_bytes / (1024 * 1024)) +
                                                  " MiB: not read (split it, or lint what renders it)"});
    return;
  }
  std::ifstream stream(path, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
  if (!stream.good() && !stream.eof()) {
    manifests.errors.push_back({file, {1, 1}, "cannot read"});
    return;
  }
  add_manifest_text(manifests, file, text, limits.yaml);
}

} // namespace

std::string ManifestObject::display_name() const {
  const std::string shown = name.empty() ? "(no name)" : name;
  return kind + " " + (namespace_name.empty() ? shown : namespace_name + "/" + shown);
}

Position ManifestObject::position_of(const std::string& relative_pointer) const {
  return lint::position_of(*document, pointer + relative_pointer);
}

void add_manifest_text(Manifests& manifests, const std::string& file, std::string_view text, const YamlLimits& limits) {
  if (text.find('\0') != std::string_view::npos) {
    manifests.errors.push_back({file, {1, 1}, "not text: it holds a NUL byte"});
    return;
  }
  auto documents = read_yaml_stream(text, limits);
  if (documents.empty()) {
    manifests.errors.push_back({file, {1, 1}, "empty: no YAML or JSON document"});
    return;
  }
  for (auto& parsed : documents) {
    auto document = std::make_shared<const YamlDocument>(std::move(parsed));
    if (document->error) {
      manifests.errors.push_back({file, document->error->at, "YAML: " + document->error->message});
      continue;
    }
    add_object(manifests, file, document, *document->root, "");
  }
}

Manifests read_manifests(const std::vector<std::string>& sources, std::istream& stdin_stream,
                         const ReadLimits& limits) {
  Manifests manifests;
  for (const std::string& source : sources) {
    if (source == "-") {
      std::string text;
      char buffer[65536];
      bool too_large = false;
      while (!too_large && (stdin_stream.read(buffer, sizeof buffer) || stdin_stream.gcount() > 0)) {
        text.append(buffer, static_cast<std::size_t>(stdin_stream.gcount()));
        too_large = text.size() > limits.max_file_bytes;
      }
      if (too_large) {
        manifests.errors.push_back({"stdin", {1, 1}, "standard input is larger than " +
                                                     std::to_string(limits.max_file_bytes / (1024 * 1024)) + " MiB"});
        continue;
      }
      add_manifest_text(manifests, "stdin", text, limits.yaml);
      continue;
    }
    const fs::path path(source);
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(path, error); !error && it != fs::recursive_directory_iterator();
           it.increment(error)) {
        if (it->is_regular_file(error) && is_manifest_file(it->path())) {
          files.push_back(it->path());
        }
      }
      if (error) {
        manifests.errors.push_back({source, {1, 1}, "cannot list: " + error.message()});
      }
      std::sort(files.begin(), files.end());
      if (files.empty() && !error) {
        manifests.errors.push_back({source, {1, 1}, "no *.yaml, *.yml or *.json file in this directory"});
      }
      for (const auto& file : files) {
        add_file(manifests, file, limits);
      }
      continue;
    }
    if (!fs::exists(path, error)) {
      manifests.errors.push_back({source, {1, 1}, "no such file or directory"});
      continue;
    }
    add_file(manifests, path, limits);
  }
  return manifests;
}

} // namespace lameduck::lint

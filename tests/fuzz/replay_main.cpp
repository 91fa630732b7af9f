// Runs a fuzz target without libFuzzer, as part of the test suite: every file of its corpus
// directory, then a fixed number of seeded random mutations of them (byte flips, inserts,
// deletions, splices). Deterministic, so a failure reproduces; `./dev fuzz` explores further.

#include "fuzz_target.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

int main(int argc, char* argv[]) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR [MUTATIONS]\n";
    return 2;
  }
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream file(entry.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  corpus.emplace_back();
  const long mutations = argc > 2 ? std::stol(argv[2]) : 20000;

  const auto run = [](const std::string& input) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  };
  for (const auto& input : corpus) {
    run(input);
  }
  std::mt19937_64 random(20261124);
  const auto pick = [&random](std::size_t bound) { return bound == 0 ? 0 : random() % bound; };
  for (long i = 0; i < mutations; ++i) {
    std::string input = corpus[pick(corpus.size())];
    for (int edits = 1 + static_cast<int>(pick(4)); edits > 0; --edits) {
      switch (pick(4)) {
      case 0:
        if (!input.empty()) {
          input[pick(input.size())] = static_cast<char>(random());
        }
        break;
      case 1:
        input.insert(pick(input.size() + 1), 1, static_cast<char>(random()));
        break;
      case 2:
        if (!input.empty()) {
          input.erase(pick(input.size()), 1 + pick(8));
        }
        break;
      default: {
        const std::string& other = corpus[pick(corpus.size())];
        input.insert(pick(input.size() + 1), other.substr(pick(other.size() + 1)));
      }
      }
    }
    run(input);
  }
  std::cout << corpus.size() << " corpus inputs and " << mutations << " mutations: no failure\n";
  return 0;
}

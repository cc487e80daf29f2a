// ftdr_parsing_tests: every committed input under fuzz/corpus/<target>/ (seeds, and each crash a
// fuzzer found, kept as crash-<what>) runs through its fuzz target, as the fuzzer ran it. A parser
// bug makes the target abort or a sanitizer report it; a stray exception fails the test here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <vector>

#include "fuzz_target.hpp"

FTDR_FUZZ_DECLARE(safetensors_header);
FTDR_FUZZ_DECLARE(config);
FTDR_FUZZ_DECLARE(request_json);
FTDR_FUZZ_DECLARE(clip_tokenizer);
FTDR_FUZZ_DECLARE(clip_tokenizer_folder);
FTDR_FUZZ_DECLARE(model_configs);
FTDR_FUZZ_DECLARE(scheduler_config);
FTDR_FUZZ_DECLARE(prompt_weights);
FTDR_FUZZ_DECLARE(worker_frame);
FTDR_FUZZ_DECLARE(pickle_checkpoint);

namespace {

namespace fs = std::filesystem;
using Target = void (*)(const std::uint8_t*, std::size_t);

struct Case {
  const char* name;
  Target target;
};

// Names the target in test listings (CTest shows GetParam()), not 16 bytes of pointers.
void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class Replay : public ::testing::TestWithParam<Case> {};

std::vector<std::uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_P(Replay, EveryCommittedInputIsHandled) {
  const fs::path dir = fs::path(FTDR_FUZZ_CORPUS_DIR) / GetParam().name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << ": each fuzz target has seeds";
  int inputs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    const std::vector<std::uint8_t> bytes = read_bytes(entry.path());
    EXPECT_NO_THROW(GetParam().target(bytes.data(), bytes.size()));
    ++inputs;
  }
  EXPECT_GT(inputs, 0) << dir;
}

INSTANTIATE_TEST_SUITE_P(FuzzCorpus, Replay,
                         ::testing::Values(Case{"safetensors_header", ftdr_fuzz_safetensors_header},
                                           Case{"config", ftdr_fuzz_config},
                                           Case{"request_json", ftdr_fuzz_request_json},
                                           Case{"clip_tokenizer", ftdr_fuzz_clip_tokenizer},
                                           Case{"clip_tokenizer_folder", ftdr_fuzz_clip_tokenizer_folder},
                                           Case{"model_configs", ftdr_fuzz_model_configs},
                                           Case{"scheduler_config", ftdr_fuzz_scheduler_config},
                                           Case{"prompt_weights", ftdr_fuzz_prompt_weights},
                                           Case{"worker_frame", ftdr_fuzz_worker_frame},
                                           Case{"pickle_checkpoint", ftdr_fuzz_pickle_checkpoint}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace

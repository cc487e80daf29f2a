// Strict weight loading (io/weights.hpp): one error lists every missing, unexpected and mismatched key.
#include "io/weights.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "ftdr/sdk/error.hpp"
#include "nn/linear.hpp"

namespace fs = std::filesystem;

namespace {

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    fc = register_module("fc", ftdr::torchbe::Linear(3, 2));
    ids = register_buffer("ids", at::arange(4, at::kLong));
  }
  ftdr::torchbe::Linear fc{nullptr};
  at::Tensor ids;
};

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("ftdr_weights_test_" + std::to_string(::getpid()) + "_" + name);
}

TEST(LoadModuleWeights, LoadsAndConverts) {
  auto path = temp_file("ok.safetensors");
  auto w = at::randn({2, 3}), b = at::randn({2});
  ftdr::torchbe::save_safetensors(
      path, {{"m.fc.weight", w.to(at::kHalf)}, {"m.fc.bias", b}, {"m.ids", at::arange(4, at::kLong) * 2}});
  TinyImpl tiny;
  ftdr::torchbe::load_module_weights(tiny, ftdr::torchbe::SafeTensorsFile::open(path), at::kFloat, "m.");
  EXPECT_EQ(tiny.fc->weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(tiny.fc->weight, w.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::equal(tiny.fc->bias, b));
  EXPECT_EQ(tiny.ids.scalar_type(), at::kLong);  // integer buffers keep their dtype
  EXPECT_EQ(tiny.ids[3].item<int64_t>(), 6);
  // Loading as f16 changes the parameters' dtype in place.
  ftdr::torchbe::load_module_weights(tiny, ftdr::torchbe::SafeTensorsFile::open(path), at::kHalf, "m.");
  EXPECT_EQ(tiny.fc->weight.scalar_type(), at::kHalf);
  EXPECT_EQ(tiny.named_parameters()["fc.weight"].scalar_type(), at::kHalf);
  fs::remove(path);
}

TEST(LoadModuleWeights, ReportsAllProblemsInOneError) {
  auto path = temp_file("bad.safetensors");
  ftdr::torchbe::save_safetensors(
      path,
      {{"fc.weight", at::zeros({2, 4})}, {"extra.bias", at::zeros({1})}, {"ids", at::zeros({4}, at::kLong)}});
  TinyImpl tiny;
  try {
    ftdr::torchbe::load_module_weights(tiny, ftdr::torchbe::SafeTensorsFile::open(path), at::kFloat);
    FAIL() << "mismatched weights loaded";
  } catch (const ftdr::sdk::Error& e) {
    EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::model_error);
    const std::string msg = e.what();
    for (const char* part : {"missing keys", "fc.bias", "unexpected keys", "extra.bias", "shape mismatches",
                             "fc.weight: file [2, 4], model [2, 3]"})
      EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  }
  fs::remove(path);
}

// ignoring(): stored keys under the prefix that start with a listed part are neither loaded nor
// unexpected; others still are.
TEST(LoadModuleWeights, IgnoringSkipsTheListedParts) {
  auto path = temp_file("ignoring.safetensors");
  ftdr::torchbe::save_safetensors(path, {{"m.fc.weight", at::zeros({2, 3})},
                                         {"m.fc.bias", at::zeros({2})},
                                         {"m.ids", at::zeros({4}, at::kLong)},
                                         {"m.encoder.w", at::zeros({1})},
                                         {"m.encoderx", at::zeros({1})}});
  TinyImpl tiny;
  const ftdr::torchbe::WeightSource source(ftdr::torchbe::SafeTensorsFile::open(path), "m.");
  const std::string problems = ftdr::torchbe::check_module_weights(tiny, source.ignoring({"encoder."}));
  EXPECT_EQ(problems.find("m.encoder.w"), std::string::npos) << problems;
  EXPECT_NE(problems.find("unexpected keys"), std::string::npos) << problems;
  EXPECT_NE(problems.find("m.encoderx"), std::string::npos) << problems;
  EXPECT_NO_THROW(
      ftdr::torchbe::load_module_weights(tiny, source.ignoring({"encoder.", "encoderx"}), at::kFloat));
  fs::remove(path);
}

}  // namespace

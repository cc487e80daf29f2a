// RuntimeOptions::dtype on a reduced-precision backend: a phase asked to run in f32 casts its
// component to f32 for that phase only, and the weights return to the run's dtype bit for bit
// (recovery's "retry in f32" after a numerical error). bf16 on the CPU stands in for f16 on a GPU.
#include <gtest/gtest.h>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

std::uint64_t bytes_of(const TorchBackend& backend, const std::string& name) {
  for (const auto& c : backend.components())
    if (c.name == name) return c.bytes;
  ADD_FAILURE() << "no component " << name;
  return 0;
}

// Records the UNet's size at every step: what the weights are while the phase runs.
class UNetBytesObserver final : public sdk::StepObserver {
 public:
  explicit UNetBytesObserver(const TorchBackend& backend) : backend_(backend) {}
  void on_step(const sdk::StepEvent&) override { seen.push_back(bytes_of(backend_, "unet")); }
  std::vector<std::uint64_t> seen;

 private:
  const TorchBackend& backend_;
};

std::vector<sdk::Image> generate(TorchBackend& backend, const sdk::GenerationParams& p) {
  auto cond = backend.encode(p);
  RecordingObserver observer;
  auto latents = backend.denoise(p, *cond, nullptr, observer);
  return backend.decode(p, *latents, nullptr);
}

TEST(BackendPrecision, AnF32PhaseOnABf16BackendUpcastsThatPhaseOnly) {
  FTDR_REQUIRE_REFERENCE(root);
  const ReferenceRun run = reference_run(root, "tiny-sd1", "pipe.pndm.s4");
  TorchBackend backend(context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cpu")}, {"dtype", std::string("bf16")}, {"attention", std::string("naive")}})));
  backend.load(run.model_dir.string());
  EXPECT_EQ(backend.info().dtype, sdk::DType::bf16);
  const std::uint64_t bf16_bytes = bytes_of(backend, "unet");

  sdk::GenerationParams p = run.params;
  p.options.dtype = sdk::DType::bf16;
  const std::vector<sdk::Image> before = generate(backend, p);

  auto cond = backend.encode(p);
  sdk::GenerationParams f32 = p;
  f32.options.dtype = sdk::DType::f32;
  UNetBytesObserver observer(backend);
  auto latents = backend.denoise(f32, *cond, nullptr, observer);
  ASSERT_FALSE(observer.seen.empty());
  for (std::uint64_t b : observer.seen) EXPECT_EQ(b, 2 * bf16_bytes);  // f32 during the phase
  EXPECT_EQ(bytes_of(backend, "unet"), bf16_bytes);                    // bf16 after it
  EXPECT_EQ(backend.decode(f32, *latents, nullptr).size(), 1u);

  // Back at bf16 bit for bit: the same bf16 job gives the same image as before the f32 phase.
  const std::vector<sdk::Image> after = generate(backend, p);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(before[0].rgb, after[0].rgb);
}

}  // namespace
}  // namespace ftdr::test

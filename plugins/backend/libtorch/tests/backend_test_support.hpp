// plugins/backend/libtorch/tests/backend_test_support.hpp: what the TorchBackend tests share — a map-backed
// ConfigView, a recording StepObserver, and the parameters of a reference pipeline run.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "ftdr/sdk/sdk.hpp"
#include "io/safetensors.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::test {

// A [backend.libtorch] table from a map; records which keys were read, like the host's view.
class MapConfig final : public sdk::ConfigView {
 public:
  using Value = std::variant<std::string, std::int64_t, double, bool>;
  explicit MapConfig(std::map<std::string, Value> values = {}) : values_(std::move(values)) {}

  bool has(const std::string& k) const override { return values_.count(k) != 0; }
  std::string get_string(const std::string& k, const std::string& f) const override {
    return get<std::string>(k, f);
  }
  std::int64_t get_int(const std::string& k, std::int64_t f) const override {
    return get<std::int64_t>(k, f);
  }
  double get_double(const std::string& k, double f) const override { return get<double>(k, f); }
  bool get_bool(const std::string& k, bool f) const override { return get<bool>(k, f); }
  std::vector<std::string> get_string_list(const std::string&) const override { return {}; }
  std::shared_ptr<const ConfigView> table(const std::string& k) const override {
    read_.insert(k);
    auto it = tables_.find(k);
    return it != tables_.end() ? it->second : std::make_shared<MapConfig>();
  }
  void add_table(const std::string& k, std::shared_ptr<MapConfig> t) { tables_[k] = std::move(t); }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) out.push_back(k);
    return out;
  }
  std::string where(const std::string& k) const override {
    return "test.toml: [backend.libtorch] key '" + k + "'";
  }
  [[noreturn]] void reject(const std::string& k, const std::string& expected) const override {
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(k) + ": expected " + expected);
  }
  const std::set<std::string>& read() const { return read_; }

 private:
  template <class T>
  T get(const std::string& k, const T& fallback) const {
    read_.insert(k);
    auto it = values_.find(k);
    if (it == values_.end()) return fallback;
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(k) + ": wrong type");
  }
  std::map<std::string, Value> values_;
  std::map<std::string, std::shared_ptr<MapConfig>> tables_;
  mutable std::set<std::string> read_;
};

inline sdk::PluginContext context_with(std::shared_ptr<const sdk::ConfigView> cfg) {
  sdk::PluginContext ctx;
  ctx.config = std::move(cfg);
  return ctx;
}

// Default test backend: CPU, f32, naive attention (bit-stable across runs).
inline sdk::PluginContext cpu_context() {
  return context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cpu")}, {"attention", std::string("naive")}}));
}

// Records every event; optionally keeps the artifact of one step (the host would checkpoint it).
class RecordingObserver final : public sdk::StepObserver {
 public:
  explicit RecordingObserver(int keep_step = -1) : keep_step_(keep_step) {}
  void on_step(const sdk::StepEvent& e) override {
    events.push_back(e);
    if (e.step == keep_step_ && keep) keep(*e.latents);
  }
  std::vector<sdk::StepEvent> events;
  std::function<void(const sdk::Artifact&)> keep;

 private:
  int keep_step_;
};

struct ReferenceRun {
  std::filesystem::path model_dir;
  sdk::GenerationParams params;
  at::Tensor image;  // [1, H, W, 3] float in [0, 1]
};

// The reference pipeline run `run` (e.g. "pipe.pndm.s4") of model `name` as GenerationParams.
inline ReferenceRun reference_run(const std::filesystem::path& root, const std::string& name,
                                  const std::string& run) {
  ReferenceRun out;
  out.model_dir = root / name;
  std::ifstream in(out.model_dir / "reference.json");
  const auto ref = nlohmann::json::parse(in);
  const auto& r = ref.at("runs").at(run);
  auto& req = out.params.request;
  req.prompt = r.at("prompt").get<std::string>();
  req.negative_prompt = r.at("negative_prompt").is_null() ? "" : r.at("negative_prompt").get<std::string>();
  req.cfg_scale = r.at("guidance_scale").get<double>();
  req.steps = r.at("num_inference_steps").get<int>();
  req.width = out.params.width = r.at("width").get<int>();
  req.height = out.params.height = r.at("height").get<int>();
  req.seed = r.at("latent_seed").get<std::uint64_t>();
  req.sampler = "default";
  out.image = torchbe::SafeTensorsFile::open(out.model_dir / "reference.safetensors").load(run + ".image");
  return out;
}

// Max |rgb8 - round(ref * 255)| over all pixels of image i.
inline int max_rgb8_diff(const sdk::Image& img, const at::Tensor& ref_nhwc, int64_t i = 0) {
  const at::Tensor expected = (ref_nhwc[i].to(at::kDouble) * 255.0).round().to(at::kInt).contiguous();
  EXPECT_EQ(static_cast<int64_t>(img.rgb.size()), expected.numel());
  const int* e = expected.data_ptr<int>();
  int worst = 0;
  for (std::size_t k = 0; k < img.rgb.size() && static_cast<int64_t>(k) < expected.numel(); ++k)
    worst = std::max(worst, std::abs(static_cast<int>(img.rgb[k]) - e[k]));
  return worst;
}

// The committed single-file checkpoints of the tiny models (tests/data/single_file).
inline std::filesystem::path single_file_data_dir() {
  return std::filesystem::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/single_file";
}

// True when the runtime holds the tensor stored under `key` in `component`'s weight file: all of
// them, except the VAE's encoder and quant_conv (it holds the decoder alone, as text-to-image never
// encodes: vae/autoencoder_kl.hpp).
inline bool runtime_holds(const std::string& component, const std::string& key) {
  if (component != "vae") return true;
  for (const auto& left_out : torchbe::kVaeEncoderKeys)
    if (key.rfind(left_out, 0) == 0) return false;
  return true;
}

}  // namespace ftdr::test

// ftdr_bench_single_file: load time and peak RSS of an SD-1.5-size single-file checkpoint.
//
//   ftdr_bench_single_file [--dir DIR]        # writes DIR/sd15-random.safetensors (4.3 GB, F32)
//   ftdr_bench_single_file --time-load FILE f32|f16   # one load in this process, one JSON line
//
// Builds SD 1.5's three networks from ../shared/reference/sd15-configs (random weights), writes
// them in the original LDM layout with io/checkpoint_keys.hpp's names, then loads the file in a
// fresh process (this program, re-run with --load) and prints: the configs inferred from its shapes
// against SD 1.5's, load seconds, the weights' bytes, RSS before loading and peak RSS (VmHWM).
// The promise being measured: peak RSS - RSS before <= 1.15 x the loaded weights.
// --time-load is bench/compare_single_file.py's FTDR side (any family, e.g. an SDXL-size file at
// f16): load_model() builds every component (tokenizers, text encoders, UNet, VAE) as the backend's
// load() does, and the line says {"load_s", "weights_bytes", "rss_before", "peak_rss", "family",
// "components"}.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "io/checkpoint_keys.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors.hpp"
#include "io/single_file.hpp"
#include "pipeline/loaded_model.hpp"

namespace fs = std::filesystem;
using namespace ftdr::torchbe;

namespace {

// A /proc/self/status field in bytes (VmRSS, VmHWM).
std::uint64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  return 0;
}

double gb(std::uint64_t bytes) { return static_cast<double>(bytes) / 1e9; }

void add_network(std::vector<std::pair<std::string, at::Tensor>>& out, torch::nn::Module& net,
                 const std::string& prefix, const std::function<StoredKey(const std::string&)>& rename) {
  for (const auto& item : net.named_parameters()) {
    const StoredKey k = rename(item.key());
    at::Tensor t = item.value().detach();
    if (k.squeeze_1x1) t = t.reshape({t.size(0), t.size(1), 1, 1});
    out.emplace_back(prefix + k.key, t);
  }
}

void write_checkpoint(const fs::path& configs, const fs::path& file) {
  ModelFolder m;
  m.text_encoder = CLIPTextConfig::from_json(read_json_file(configs / "text_encoder/config.json"), "te");
  m.unet = UNetConfig::from_json(read_json_file(configs / "unet/config.json"), "unet");
  m.vae = VaeConfig::from_json(read_json_file(configs / "vae/config.json"), "vae");
  CLIPTextModel te(m.text_encoder);
  UNet2DConditionModel unet(m.unet);
  AutoencoderKL vae(m.vae);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  add_network(tensors, *unet, ckpt_prefix::unet,
              [&](const std::string& k) { return unet_stored_key(k, m.unet); });
  add_network(tensors, *vae, ckpt_prefix::vae,
              [&](const std::string& k) { return vae_stored_key(k, m.vae); });
  add_network(tensors, *te, std::string(ckpt_prefix::clip),
              [](const std::string& k) { return clip_stored_key(k); });
  save_safetensors(file, tensors);
}

int load_and_report(const fs::path& file, const fs::path& configs) {
  const std::uint64_t before = status_bytes("VmRSS");
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel m = load_model(file, at::kFloat);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t peak = status_bytes("VmHWM"), after = status_bytes("VmRSS");
  std::uint64_t weights = 0;
  for (const auto& name : m.component_names()) weights += module_bytes(m.component(name));
  const UNetConfig sd15 = UNetConfig::from_json(read_json_file(configs / "unet/config.json"), "unet");
  const bool same = m.folder.unet.block_out_channels == sd15.block_out_channels &&
                    m.folder.unet.down_block_types == sd15.down_block_types &&
                    m.folder.unet.up_block_types == sd15.up_block_types &&
                    m.folder.unet.attention_heads == sd15.attention_heads &&
                    m.folder.unet.cross_attention_dim == sd15.cross_attention_dim &&
                    m.folder.text_encoder.num_attention_heads == 12 &&
                    m.folder.text_encoder.num_hidden_layers == 12;
  std::printf("inferred configs equal SD 1.5's (channels, blocks, heads, context, CLIP): %s\n",
              same ? "yes" : "NO");
  std::printf("load: %.2f s; weights %.3f GB (f32); RSS before %.3f GB, peak %.3f GB, after %.3f GB\n",
              seconds, gb(weights), gb(before), gb(peak), gb(after));
  std::printf("peak RSS - RSS before = %.3f x the loaded weights (promise: <= 1.15)\n",
              static_cast<double>(peak - before) / static_cast<double>(weights));
  return same && peak - before <= weights * 115 / 100 ? 0 : 1;
}

int time_load(const fs::path& file, const std::string& dtype) {
  if (dtype != "f32" && dtype != "f16") {
    std::fprintf(stderr, "--time-load: dtype expected f32 or f16, got %s\n", dtype.c_str());
    return 2;
  }
  const std::uint64_t before = status_bytes("VmRSS");
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel m = load_model(file, dtype == "f16" ? at::kHalf : at::kFloat);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t weights = 0;
  std::string components;
  for (const auto& name : m.component_names()) {
    weights += module_bytes(m.component(name));
    components += (components.empty() ? "\"" : ",\"") + name + "\"";
  }
  std::printf(
      "{\"load_s\":%.3f,\"weights_bytes\":%llu,\"rss_before\":%llu,\"peak_rss\":%llu,"
      "\"family\":\"%s\",\"components\":[%s]}\n",
      seconds, static_cast<unsigned long long>(weights), static_cast<unsigned long long>(before),
      static_cast<unsigned long long>(status_bytes("VmHWM")), m.folder.is_sdxl() ? "sdxl" : "sd",
      components.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--time-load") return time_load(argv[2], argv[3]);
  const fs::path configs = fs::path(FTDR_DEFAULT_REFERENCE_DIR) / "sd15-configs";
  if (argc == 3 && std::string(argv[1]) == "--load") return load_and_report(argv[2], configs);
  fs::path dir = fs::temp_directory_path();
  if (argc == 3 && std::string(argv[1]) == "--dir") dir = argv[2];
  const fs::path file = dir / "sd15-random.safetensors";
  if (!fs::exists(file)) {
    std::printf("writing %s (SD 1.5 shapes, random weights, F32)\n", file.c_str());
    write_checkpoint(configs, file);
  }
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    execl("/proc/self/exe", argv[0], "--load", file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

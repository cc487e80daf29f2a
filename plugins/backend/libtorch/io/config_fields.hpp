// io/config_fields.hpp: typed reading of one diffusers/transformers config.json, shared by the
// network configs (clip/clip_text_config, unet/unet_config, vae/vae_config).
//
// Every error is sdk::Error(model_error) naming the file and the key, with the value found:
//
//   Fields f(json, "unet/config.json");
//   f.read("in_channels", c.in_channels);              // absent or null: the default stays
//   f.require_range("in_channels", c.in_channels, 1, kMaxImageChannels);
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace ftdr::torchbe {

// Bounds far beyond any Stable Diffusion model, so that sizes computed from them cannot overflow;
// what is inside the bounds but does not fit is refused by the size check (io/model_size.hpp).
constexpr int64_t kMaxChannels = 32768;  // SD 1.x/2.x: 1280; SDXL: 1280
constexpr int64_t kMaxBlocks = 8;        // SD: 4
constexpr int64_t kMaxLayers = 64;  // layers_per_block, transformer depth, CLIP layers (SD: 2, 1, 12..23)
constexpr int64_t kMaxImageChannels = 64;

// Reads typed fields of one config file; every error names the file and the key.
class Fields {
 public:
  Fields(const nlohmann::json& j, const std::string& file);

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  // A present, non-null value.
  const nlohmann::json* find(const std::string& key) const;

  void read(const std::string& key, int64_t& out) const;
  void read(const std::string& key, double& out) const;
  void read(const std::string& key, bool& out) const;
  void read(const std::string& key, std::string& out) const;
  void read(const std::string& key, std::vector<std::string>& out) const;
  // An int list; a bare int is repeated `count` times (diffusers' "int or tuple" fields).
  void read_int_or_list(const std::string& key, std::vector<int64_t>& out, size_t count) const;

  void require_positive(const std::string& key, int64_t v) const;
  void require_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) const;
  void require_positive_finite(const std::string& key, double v) const;
  void require_finite(const std::string& key, double v) const;
  // Keys whose only supported value is "absent or null".
  void require_null(const std::string& key, const std::string& why) const;
  template <typename T>
  void require_default(const std::string& key, const T& expected, const std::string& why) const {
    if (auto v = find(key)) {
      bool same = false;
      try {
        same = v->get<T>() == expected;
      } catch (const nlohmann::json::exception&) {
      }
      if (!same) fail(key, "only " + nlohmann::json(expected).dump() + " is supported: " + why);
    }
  }
  void require_one_of(const std::string& key, const std::string& value,
                      const std::set<std::string>& allowed) const;

 private:
  const nlohmann::json& j_;
  std::string file_;
};

}  // namespace ftdr::torchbe

// Fuzz target: the model folder's config readers (clip/clip_text_config, unet/unet_config and
// vae/vae_config in plugins/backend/libtorch). The first byte picks the reader (text encoder, UNet,
// VAE), the rest is the config.json. Refused input is sdk::Error(model_error); an accepted config's
// derived sizes are computed as the networks do.
#include <nlohmann/json.hpp>

#include "clip/clip_text_config.hpp"
#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace {

using namespace ftdr::torchbe;

void read_config(std::uint8_t which, const nlohmann::json& json) {
  switch (which % 3) {
    case 0: {
      CLIPTextConfig c = CLIPTextConfig::from_json(json, "text_encoder/config.json");
      FTDR_FUZZ_CHECK(c.hidden_size > 0 && c.num_attention_heads > 0, "positive sizes");
      break;
    }
    case 1: {
      UNetConfig c = UNetConfig::from_json(json, "unet/config.json");
      const std::size_t n = c.block_out_channels.size();
      FTDR_FUZZ_CHECK(n > 0 && c.down_block_types.size() == n && c.up_block_types.size() == n &&
                          c.layers_per_block.size() == n && c.attention_heads.size() == n,
                      "one entry per block");
      FTDR_FUZZ_CHECK(c.time_embed_dim() > 0, "time_embed_dim");
      break;
    }
    default: {
      VaeConfig c = VaeConfig::from_json(json, "vae/config.json");
      FTDR_FUZZ_CHECK(!c.block_out_channels.empty(), "blocks");
      FTDR_FUZZ_CHECK(c.scale_factor() > 0, "scale_factor");
      break;
    }
  }
}

}  // namespace

FTDR_FUZZ_TARGET(model_configs) {
  if (size == 0) return;
  nlohmann::json json = nlohmann::json::parse(data + 1, data + size, nullptr, false);
  if (json.is_discarded()) return;  // not JSON: the folder reader refuses it before these readers
  try {
    read_config(data[0], json);
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::model_error, e.what());
    // {} is a config of the libraries' defaults, which are SD 1.x's and must be accepted.
    FTDR_FUZZ_CHECK(!(json.is_object() && json.empty()), std::string("{} refused: ") + e.what());
  }
}

// io/pickle_checkpoint.hpp: the tensors of a PyTorch zip checkpoint (.ckpt, .pt: torch.save since
// PyTorch 1.6), as a safetensors header over the same bytes, so SafeTensorsFile reads both.
//
//   SafeTensorsHeader h = parse_pickle_checkpoint(bytes, size, "model.ckpt");
//   h.tensors.at("model.diffusion_model.out.2.bias").begin;   // offset in the file (data_offset 0)
//
// The archive's <name>/data.pkl is read by the restricted unpickler (io/restricted_unpickler.hpp:
// nothing is executed, any global but tensor rebuilds, storages and OrderedDict is refused by
// name). The state dict is the top-level dict's "state_dict" entry when there is one (Lightning
// checkpoints: {"global_step", "state_dict", ...}), else the top-level dict. Its tensor entries are
// kept (other values, such as an int, are skipped); each must be contiguous and lie inside its
// storage's data/<key> entry, which must be little-endian (byteorder) and stored uncompressed.
// Every problem is an sdk::Error(model_error) naming `path`. Needs no libtorch (fuzzed).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "io/safetensors_header.hpp"

namespace ftdr::torchbe {

SafeTensorsHeader parse_pickle_checkpoint(const std::uint8_t* bytes, std::size_t size,
                                          const std::filesystem::path& path);

// A zip archive's first bytes ("PK\x03\x04"): how a .ckpt is told from a .safetensors.
bool looks_like_zip(const std::uint8_t* bytes, std::size_t size);

}  // namespace ftdr::torchbe

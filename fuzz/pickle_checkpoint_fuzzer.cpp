// Fuzz target: PyTorch zip checkpoints through the restricted unpickler
// (plugins/backend/libtorch/io/pickle_checkpoint.hpp). What it accepts must keep the promise the
// loader relies on: every tensor's bytes inside the file, exactly product(shape) x element size of
// them; and nothing it reads may crash, hang, leak or run past a bound (memo, stack, entry sizes).
#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "io/pickle_checkpoint.hpp"

FTDR_FUZZ_TARGET(pickle_checkpoint) {
  try {
    const auto header = ftdr::torchbe::parse_pickle_checkpoint(data, size, "fuzz.ckpt");
    FTDR_FUZZ_CHECK(header.data_offset == 0, "offsets are file offsets");
    for (const auto& [key, info] : header.tensors) {
      FTDR_FUZZ_CHECK(info.begin <= info.end && info.end <= size, key + ": inside the file");
      std::uint64_t bytes = ftdr::torchbe::safetensors_element_size(info.dtype);
      FTDR_FUZZ_CHECK(bytes != 0, key + ": dtype " + info.dtype);
      for (std::int64_t d : info.shape) {
        FTDR_FUZZ_CHECK(d >= 0, key + ": negative dimension");
        FTDR_FUZZ_CHECK(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes),
                        key + ": overflow");
      }
      FTDR_FUZZ_CHECK(bytes == info.end - info.begin, key + ": shape x dtype == byte range");
    }
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::model_error, e.what());
  }
}

// Fuzz target: the safetensors header (plugins/backend/libtorch/io/safetensors_header.hpp). What it accepts
// must keep the promise the loader relies on: every tensor's bytes inside the data section, exactly
// product(shape) x element size of them, no two tensors overlapping, every dimension a valid int64_t.
#include <algorithm>
#include <limits>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "io/safetensors_header.hpp"

namespace {

using ftdr::torchbe::SafeTensorsHeader;

void check_accepted(const SafeTensorsHeader& header, std::size_t size) {
  FTDR_FUZZ_CHECK(header.data_offset >= 8 && header.data_offset <= size, "data offset inside the file");
  const std::uint64_t data_bytes = size - header.data_offset;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& [key, info] : header.tensors) {
    FTDR_FUZZ_CHECK(key != "__metadata__", key);
    FTDR_FUZZ_CHECK(info.begin <= info.end && info.end <= data_bytes, key);
    std::uint64_t bytes = ftdr::torchbe::safetensors_element_size(info.dtype);
    FTDR_FUZZ_CHECK(bytes != 0, key + ": dtype " + info.dtype);
    for (std::int64_t d : info.shape) {
      FTDR_FUZZ_CHECK(d >= 0, key + ": negative dimension");
      FTDR_FUZZ_CHECK(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes),
                      key + ": the byte count overflows");
    }
    FTDR_FUZZ_CHECK(bytes == info.end - info.begin, key + ": shape x dtype == data_offsets");
    ranges.emplace_back(info.begin, info.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    FTDR_FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second, "overlapping tensors");
}

}  // namespace

FTDR_FUZZ_TARGET(safetensors_header) {
  try {
    check_accepted(ftdr::torchbe::parse_safetensors_header(data, size, "fuzz.safetensors"), size);
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::model_error, e.what());
  }
}

// plugins/backend/libtorch/tests/sampler_test_util.hpp: reads one tiny model's reference.json /
// reference.safetensors for the sampler and pipeline parity tests.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "io/safetensors.hpp"
#include "tensor_diff.hpp"

namespace ftdr::test {

struct ModelReference {
  std::string name;  // "tiny-sd1"
  std::filesystem::path dir;
  nlohmann::json ref;             // reference.json
  nlohmann::json scheduler_file;  // scheduler/scheduler_config.json
  std::optional<torchbe::SafeTensorsFile> tensors;

  static ModelReference load(const std::filesystem::path& root, const std::string& name) {
    ModelReference m;
    m.name = name;
    m.dir = root / name;
    m.ref = read_json(m.dir / "reference.json");
    m.scheduler_file = read_json(m.dir / "scheduler" / "scheduler_config.json");
    m.tensors = torchbe::SafeTensorsFile::open(m.dir / "reference.safetensors");
    return m;
  }
  static nlohmann::json read_json(const std::filesystem::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }
  bool has(const std::string& key) const { return tensors->contains(key); }
  at::Tensor tensor(const std::string& key) const { return tensors->load(key); }
  // The scheduler file with a variant's overrides applied (what from_config received).
  nlohmann::json scheduler_config_for(const nlohmann::json& overrides) const {
    nlohmann::json cfg = scheduler_file;
    for (auto it = overrides.begin(); it != overrides.end(); ++it) cfg[it.key()] = it.value();
    return cfg;
  }
};

// max |a - b| / max |b| (b the reference).
inline double rel_diff(const at::Tensor& a, const at::Tensor& ref) {
  return max_abs_diff(a, ref) / std::max(max_abs(ref), 1e-30);
}

// "pndm", "dpmpp_2m_karras" ... from a run key "pipe.dpmpp_2m_karras.s4" or variant "euler@trailing".
inline std::string sampler_of(const std::string& key) {
  std::string s = key.rfind("pipe.", 0) == 0 ? key.substr(5) : key;
  s = s.substr(0, s.find_first_of(".@"));
  return s;
}

}  // namespace ftdr::test

// backend/artifact_io.cpp: see artifact_io.h.
#include "artifacts/artifact_io.hpp"

#include <nlohmann/json.hpp>

#include <utility>
#include <vector>

#include "artifacts/conditioning.hpp"
#include "artifacts/latents_artifact.hpp"
#include "ftdr/sdk/error.hpp"
#include "io/safetensors.hpp"

namespace ftdr::torchbe {
namespace {

using Named = std::vector<std::pair<std::string, at::Tensor>>;
constexpr const char* kMetaKey = "ftdr";
constexpr int kFormatVersion = 2;  // 2: latents identity has request_digest and model

// uint8 bytes -> int64 elements (zero-padded to a multiple of 8); the true length goes to metadata.
at::Tensor pack_bytes(const at::Tensor& bytes) {
  at::Tensor flat = bytes.to(at::kCPU).contiguous().view({-1});
  const int64_t n = flat.numel(), padded = (n + 7) / 8 * 8;
  at::Tensor buf = at::zeros({padded}, at::kByte);
  buf.slice(0, 0, n).copy_(flat);
  return buf.view(at::kLong);
}

at::Tensor unpack_bytes(const at::Tensor& packed, int64_t length) {
  return packed.contiguous().view(at::kByte).slice(0, 0, length).clone();
}

void save_conditioning(const ConditioningArtifact& a, const std::string& path) {
  nlohmann::json meta{{"kind", a.kind()}, {"version", kFormatVersion}, {"clip_skip", a.clip_skip}};
  Named tensors{{"cond", a.cond}};
  if (a.uncond.defined()) tensors.emplace_back("uncond", a.uncond);
  if (a.cond_pooled.defined()) tensors.emplace_back("cond_pooled", a.cond_pooled);
  if (a.uncond_pooled.defined()) tensors.emplace_back("uncond_pooled", a.uncond_pooled);
  save_safetensors(path, tensors, {{"format", "pt"}, {kMetaKey, meta.dump()}});
}

nlohmann::json identity_json(const LatentsIdentity& id) {
  return {{"seed", id.seed},
          {"first_image", id.first_image},
          {"batch", id.batch},
          {"width", id.width},
          {"height", id.height},
          {"steps", id.steps},
          {"sampler", id.sampler},
          {"eta", id.eta},
          {"request_digest", id.request_digest},
          {"model", id.model}};
}

LatentsIdentity identity_from(const nlohmann::json& j) {
  LatentsIdentity id;
  id.seed = j.at("seed").get<std::uint64_t>();
  id.first_image = j.at("first_image").get<int>();
  id.batch = j.at("batch").get<int>();
  id.width = j.at("width").get<int>();
  id.height = j.at("height").get<int>();
  id.steps = j.at("steps").get<int>();
  id.sampler = j.at("sampler").get<std::string>();
  id.eta = j.at("eta").get<double>();
  id.request_digest = j.at("request_digest").get<std::string>();
  id.model = j.at("model").get<std::string>();
  return id;
}

void save_latents(const LatentsArtifact& a, const std::string& path) {
  nlohmann::json meta{{"kind", a.kind()},
                      {"version", kFormatVersion},
                      {"steps_done", a.done},
                      {"total", a.total},
                      {"identity", identity_json(a.identity)}};
  Named tensors{{"latents", a.latents}};
  nlohmann::json state_names = nlohmann::json::array();
  for (std::size_t i = 0; i < a.sampler_state.size(); ++i) {
    state_names.push_back(a.sampler_state[i].first);
    // Indexed keys keep the sampler's order (the file sorts by name).
    tensors.emplace_back("sampler." + std::to_string(i), a.sampler_state[i].second);
  }
  nlohmann::json noise_names = nlohmann::json::array(), noise_lengths = nlohmann::json::array();
  for (std::size_t i = 0; i < a.noise_state.size(); ++i) {
    noise_names.push_back(a.noise_state[i].first);
    noise_lengths.push_back(a.noise_state[i].second.numel());
    tensors.emplace_back("noise." + std::to_string(i), pack_bytes(a.noise_state[i].second));
  }
  meta["sampler_state"] = state_names;
  meta["noise_state"] = noise_names;
  meta["noise_state_bytes"] = noise_lengths;
  save_safetensors(path, tensors, {{"format", "pt"}, {kMetaKey, meta.dump()}});
}

sdk::ArtifactPtr load_conditioning(const SafeTensorsFile& file, const nlohmann::json& meta) {
  auto a = std::make_shared<ConditioningArtifact>();
  a->clip_skip = meta.at("clip_skip").get<int>();
  a->cond = file.load("cond");
  if (file.contains("uncond")) a->uncond = file.load("uncond");
  if (file.contains("cond_pooled")) a->cond_pooled = file.load("cond_pooled");
  if (file.contains("uncond_pooled")) a->uncond_pooled = file.load("uncond_pooled");
  return a;
}

sdk::ArtifactPtr load_latents(const SafeTensorsFile& file, const nlohmann::json& meta) {
  auto a = std::make_shared<LatentsArtifact>();
  a->done = meta.at("steps_done").get<int>();
  a->total = meta.at("total").get<int>();
  a->identity = identity_from(meta.at("identity"));
  a->from_file = true;
  a->latents = file.load("latents");
  const auto& names = meta.at("sampler_state");
  for (std::size_t i = 0; i < names.size(); ++i)
    a->sampler_state.emplace_back(names[i].get<std::string>(), file.load("sampler." + std::to_string(i)));
  const auto& noise_names = meta.at("noise_state");
  const auto& lengths = meta.at("noise_state_bytes");
  for (std::size_t i = 0; i < noise_names.size(); ++i) {
    a->noise_state.emplace_back(
        noise_names[i].get<std::string>(),
        unpack_bytes(file.load("noise." + std::to_string(i)), lengths.at(i).get<int64_t>()));
  }
  return a;
}

}  // namespace

void save_artifact_file(const sdk::Artifact& artifact, const std::string& path) {
  if (const auto* c = dynamic_cast<const ConditioningArtifact*>(&artifact))
    return save_conditioning(*c, path);
  if (const auto* l = dynamic_cast<const LatentsArtifact*>(&artifact)) return save_latents(*l, path);
  throw sdk::Error(sdk::ErrorKind::invalid_request, "save_artifact " + path + ": the \"" + artifact.kind() +
                                                        "\" artifact was not made by the libtorch backend");
}

sdk::ArtifactPtr load_artifact_file(const std::string& path) {
  const SafeTensorsFile file = SafeTensorsFile::open(path);
  const auto it = file.metadata().find(kMetaKey);
  if (it == file.metadata().end())
    throw sdk::Error(sdk::ErrorKind::model_error,
                     path + ": not an FTDR checkpoint (no __metadata__.ftdr entry)");
  try {
    const nlohmann::json meta = nlohmann::json::parse(it->second);
    const std::string kind = meta.at("kind").get<std::string>();
    if (meta.at("version").get<int>() != kFormatVersion)
      throw sdk::Error(sdk::ErrorKind::model_error, path + ": checkpoint format version " +
                                                        meta.at("version").dump() + ", expected " +
                                                        std::to_string(kFormatVersion));
    if (kind == ConditioningArtifact::kKind) return load_conditioning(file, meta);
    if (kind == LatentsArtifact::kKind) return load_latents(file, meta);
    throw sdk::Error(sdk::ErrorKind::model_error, path + ": unknown artifact kind \"" + kind + "\"");
  } catch (const nlohmann::json::exception& e) {
    throw sdk::Error(sdk::ErrorKind::model_error, path + ": malformed FTDR checkpoint metadata: " + e.what());
  }
}

}  // namespace ftdr::torchbe

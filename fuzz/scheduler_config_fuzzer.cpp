// Fuzz target: scheduler/scheduler_config.json resolved for every sampler
// (plugins/backend/libtorch/samplers/scheduler_config.cpp). Refused input is sdk::Error(model_error).
#include <nlohmann/json.hpp>

#include <functional>

#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "samplers/scheduler_config.hpp"

namespace {

using namespace ftdr::torchbe;

void expect_model_error_or(const std::function<void()>& read) {
  try {
    read();
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::model_error, e.what());
  }
}

}  // namespace

FTDR_FUZZ_TARGET(scheduler_config) {
  nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return;  // not JSON: the folder reader refuses it before this one
  expect_model_error_or([&] { default_sampler_name(json); });
  for (auto kind : {SamplerKind::pndm, SamplerKind::ddim, SamplerKind::euler, SamplerKind::euler_a,
                    SamplerKind::dpm, SamplerKind::lms}) {
    expect_model_error_or([&] {
      SchedulerConfig c = SchedulerConfig::resolve(json, kind);
      FTDR_FUZZ_CHECK(c.num_train_timesteps >= 2 && c.num_train_timesteps <= 100000, "num_train_timesteps");
      // An integer read back as written (not wrapped into range on the way).
      for (const char* key : {"num_train_timesteps", "steps_offset"}) {
        const auto it = json.find(key);
        if (it == json.end() || !it->is_number_integer()) continue;
        const int value = key[0] == 'n' ? c.num_train_timesteps : c.steps_offset;
        FTDR_FUZZ_CHECK(*it == value,
                        std::string(key) + ": " + it->dump() + " read as " + std::to_string(value));
      }
      FTDR_FUZZ_CHECK(c.trained_betas.empty() ||
                          c.trained_betas.size() == static_cast<std::size_t>(c.num_train_timesteps),
                      "trained_betas");
    });
  }
}

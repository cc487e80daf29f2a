#include "samplers/scheduler_config.hpp"

#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

using sdk::Error;
using sdk::ErrorKind;

const std::string kDefaultSource = "scheduler/scheduler_config.json";

// Reads the keys one class accepts; every lookup names the file and key on a type error.
class KeyReader {
 public:
  KeyReader(const nlohmann::json& j, const std::string& source) : j_(j), source_(source) {}

  bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }

  void read(const char* key, int& out) const {
    if (!has(key)) return;
    const auto& v = j_.at(key);
    // Range-checked before narrowing: 4294967298 must not read as 2.
    if (!v.is_number_integer() || v.get<std::int64_t>() < INT_MIN || v.get<std::int64_t>() > INT_MAX ||
        (v.is_number_unsigned() && v.get<std::uint64_t>() > INT_MAX))
      fail(key, "an integer in [" + std::to_string(INT_MIN) + ", " + std::to_string(INT_MAX) + "]");
    out = v.get<int>();
  }
  void read(const char* key, double& out) const {
    if (!has(key)) return;
    const auto& v = j_.at(key);
    if (v.is_number()) {
      out = v.get<double>();
    } else if (v.is_string() && (v == "inf" || v == "-inf" || v == "nan")) {
      // reference.json style for non-finite floats; a real config may carry them too.
      const auto s = v.get<std::string>();
      out = s == "nan" ? std::nan("") : (s == "inf" ? INFINITY : -INFINITY);
    } else {
      fail(key, "a number");
    }
  }
  void read(const char* key, bool& out) const {
    if (!has(key)) return;
    const auto& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "true or false");
    out = v.get<bool>();
  }
  void read(const char* key, std::string& out) const {
    if (!has(key)) return;
    const auto& v = j_.at(key);
    if (!v.is_string()) fail(key, "a string");
    out = v.get<std::string>();
  }
  void read(const char* key, std::vector<double>& out) const {
    if (!has(key)) return;
    const auto& v = j_.at(key);
    if (!v.is_array()) fail(key, "an array of numbers or null");
    out.clear();
    for (const auto& x : v) {
      if (!x.is_number()) fail(key, "an array of numbers or null");
      out.push_back(x.get<double>());
    }
  }

  // The key may appear, but only with the value FTDR implements.
  template <typename T>
  void require(const char* key, const T& supported, const std::string& what) const {
    T value = supported;
    read(key, value);
    if (!(value == supported)) {
      throw Error(ErrorKind::model_error, source_ + ": key '" + key + "': FTDR supports only " + what);
    }
  }
  void require_null(const char* key, const std::string& what) const {
    if (has(key))
      throw Error(ErrorKind::model_error, source_ + ": key '" + key + "': FTDR supports only " + what);
  }

  [[noreturn]] void fail(const char* key, const std::string& expected) const {
    throw Error(ErrorKind::model_error,
                source_ + ": key '" + key + "': expected " + expected + ", got " + j_.at(key).dump());
  }

 private:
  const nlohmann::json& j_;
  const std::string& source_;
};

void check_one_of(const std::string& source, const char* key, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw Error(ErrorKind::model_error,
              source + ": key '" + key + "': expected one of " + list + ", got '" + value + "'");
}

void read_common(const KeyReader& r, SchedulerConfig& c) {
  r.read("num_train_timesteps", c.num_train_timesteps);
  r.read("beta_start", c.beta_start);
  r.read("beta_end", c.beta_end);
  r.read("beta_schedule", c.beta_schedule);
  r.read("trained_betas", c.trained_betas);
  r.read("prediction_type", c.prediction_type);
  r.read("timestep_spacing", c.timestep_spacing);
  r.read("steps_offset", c.steps_offset);
}

// Per class: the keys its __init__ accepts, starting from its defaults.
void read_class_keys(const KeyReader& r, SchedulerConfig& c) {
  switch (c.kind) {
    case SamplerKind::pndm:
      c.timestep_spacing = "leading";
      r.read("set_alpha_to_one", c.set_alpha_to_one);
      break;
    case SamplerKind::ddim:
      c.timestep_spacing = "leading";
      c.set_alpha_to_one = true;
      r.read("set_alpha_to_one", c.set_alpha_to_one);
      r.read("clip_sample", c.clip_sample);
      r.read("clip_sample_range", c.clip_sample_range);
      r.read("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
      r.require("thresholding", false, "thresholding: false");
      break;
    case SamplerKind::euler:
      c.timestep_spacing = "linspace";
      r.read("use_karras_sigmas", c.use_karras_sigmas);
      r.read("sigma_min", c.sigma_min);
      r.read("sigma_max", c.sigma_max);
      r.read("final_sigmas_type", c.final_sigmas_type);
      r.read("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
      r.require("interpolation_type", std::string("linear"), "interpolation_type: \"linear\"");
      r.require("timestep_type", std::string("discrete"), "timestep_type: \"discrete\"");
      r.require("use_exponential_sigmas", false, "use_exponential_sigmas: false");
      r.require("use_beta_sigmas", false, "use_beta_sigmas: false");
      break;
    case SamplerKind::euler_a:
      c.timestep_spacing = "linspace";
      r.read("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
      break;
    case SamplerKind::dpm:
      c.timestep_spacing = "linspace";
      r.read("use_karras_sigmas", c.use_karras_sigmas);
      r.read("final_sigmas_type", c.final_sigmas_type);
      r.read("algorithm_type", c.algorithm_type);
      r.read("solver_order", c.solver_order);
      r.read("solver_type", c.solver_type);
      r.read("lower_order_final", c.lower_order_final);
      r.read("euler_at_final", c.euler_at_final);
      r.read("lambda_min_clipped", c.lambda_min_clipped);
      r.read("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
      r.require("thresholding", false, "thresholding: false");
      r.require("use_exponential_sigmas", false, "use_exponential_sigmas: false");
      r.require("use_beta_sigmas", false, "use_beta_sigmas: false");
      r.require("use_lu_lambdas", false, "use_lu_lambdas: false");
      r.require_null("variance_type", "variance_type: null");
      break;
    case SamplerKind::lms:
      c.timestep_spacing = "linspace";
      r.read("use_karras_sigmas", c.use_karras_sigmas);
      r.require("use_exponential_sigmas", false, "use_exponential_sigmas: false");
      r.require("use_beta_sigmas", false, "use_beta_sigmas: false");
      break;
  }
}

[[noreturn]] void out_of_range(const std::string& source, const char* key, const std::string& expected,
                               const std::string& got) {
  throw Error(ErrorKind::model_error, source + ": key '" + key + "': expected " + expected + ", got " + got);
}

// Values that would make the noise schedule NaN or index past its end.
void check_numbers(const SchedulerConfig& c, const std::string& source) {
  auto is_beta = [](double b) { return std::isfinite(b) && b > 0 && b < 1; };
  if (c.trained_betas.empty()) {
    if (!is_beta(c.beta_start))
      out_of_range(source, "beta_start", "a number in (0, 1)", std::to_string(c.beta_start));
    if (!is_beta(c.beta_end) || c.beta_end < c.beta_start)
      out_of_range(source, "beta_end", "a number in [beta_start, 1)", std::to_string(c.beta_end));
  }
  for (double b : c.trained_betas)
    if (!is_beta(b)) out_of_range(source, "trained_betas", "values in (0, 1)", std::to_string(b));
  if (c.steps_offset < 0 || c.steps_offset >= c.num_train_timesteps)
    out_of_range(source, "steps_offset", "0..num_train_timesteps - 1", std::to_string(c.steps_offset));
  if (!std::isfinite(c.clip_sample_range) || c.clip_sample_range <= 0)
    out_of_range(source, "clip_sample_range", "a finite number > 0", std::to_string(c.clip_sample_range));
  // NaN: "the schedule's own extreme" (null in the file).
  for (auto [key, v] : {std::pair<const char*, double>{"sigma_min", c.sigma_min}, {"sigma_max", c.sigma_max}})
    if (!std::isnan(v) && (!std::isfinite(v) || v <= 0))
      out_of_range(source, key, "a finite number > 0 or null", std::to_string(v));
  if (c.sigma_min >= c.sigma_max)
    out_of_range(source, "sigma_min", "less than sigma_max (" + std::to_string(c.sigma_max) + ")",
                 std::to_string(c.sigma_min));
  if (std::isnan(c.lambda_min_clipped)) out_of_range(source, "lambda_min_clipped", "a number", "nan");
}

void validate(const SchedulerConfig& c, const std::string& source) {
  check_one_of(source, "beta_schedule", c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"});
  check_one_of(source, "prediction_type", c.prediction_type, {"epsilon", "v_prediction", "sample"});
  check_one_of(source, "timestep_spacing", c.timestep_spacing, {"linspace", "leading", "trailing"});
  check_one_of(source, "final_sigmas_type", c.final_sigmas_type, {"zero", "sigma_min"});
  if (c.num_train_timesteps < 2 || c.num_train_timesteps > 100000) {
    throw Error(ErrorKind::model_error, source + ": key 'num_train_timesteps': expected 2..100000, got " +
                                            std::to_string(c.num_train_timesteps));
  }
  if (!c.trained_betas.empty() && static_cast<int>(c.trained_betas.size()) != c.num_train_timesteps) {
    throw Error(ErrorKind::model_error, source + ": key 'trained_betas': expected num_train_timesteps (" +
                                            std::to_string(c.num_train_timesteps) + ") values, got " +
                                            std::to_string(c.trained_betas.size()));
  }
  check_numbers(c, source);
  // algorithm_type and solver_order are not checked here: the dpmpp_* samplers set them.
  if (c.kind == SamplerKind::dpm) check_one_of(source, "solver_type", c.solver_type, {"midpoint", "heun"});
  if (c.kind == SamplerKind::pndm && c.prediction_type == "sample") {
    throw Error(ErrorKind::model_error,
                source + ": key 'prediction_type': PNDM supports epsilon and v_prediction");
  }
  if (c.kind == SamplerKind::euler_a && c.prediction_type == "sample") {
    throw Error(ErrorKind::model_error,
                source + ": key 'prediction_type': Euler ancestral supports epsilon and v_prediction");
  }
}

}  // namespace

SchedulerConfig SchedulerConfig::resolve(const nlohmann::json& file, SamplerKind kind,
                                         const std::string& source) {
  if (!file.is_object()) throw Error(ErrorKind::model_error, source + ": expected a JSON object");
  KeyReader r(file, source);
  SchedulerConfig c;
  c.kind = kind;
  r.read("_class_name", c.file_class);
  read_class_keys(r, c);
  read_common(r, c);
  validate(c, source);
  return c;
}

void check_scheduler_config(const nlohmann::json& file, const std::string& source) {
  for (SamplerKind kind : {SamplerKind::pndm, SamplerKind::ddim, SamplerKind::euler, SamplerKind::euler_a,
                           SamplerKind::dpm, SamplerKind::lms})
    SchedulerConfig::resolve(file, kind, source);
}

std::string default_sampler_name(const nlohmann::json& scheduler_config) {
  std::string cls;
  if (scheduler_config.is_object()) {
    KeyReader r(scheduler_config, kDefaultSource);
    r.read("_class_name", cls);  // a class name that is no string is a model_error, not a json::type_error
  }
  if (cls == "PNDMScheduler") return "pndm";
  if (cls == "DDIMScheduler") return "ddim";
  if (cls == "EulerDiscreteScheduler") return "euler";
  if (cls == "EulerAncestralDiscreteScheduler") return "euler_a";
  if (cls == "LMSDiscreteScheduler") return "lms";
  if (cls == "DPMSolverMultistepScheduler") {
    const auto karras = scheduler_config.find("use_karras_sigmas");
    const bool is_karras = karras != scheduler_config.end() && karras->is_boolean() && karras->get<bool>();
    return is_karras ? "dpmpp_2m_karras" : "dpmpp_2m";
  }
  throw Error(ErrorKind::model_error,
              kDefaultSource + ": _class_name '" + cls +
                  "' has no FTDR sampler (PNDMScheduler, DDIMScheduler, EulerDiscreteScheduler, "
                  "EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler, LMSDiscreteScheduler); "
                  "choose a sampler by name");
}

}  // namespace ftdr::torchbe

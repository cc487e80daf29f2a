// `ftdr generate`'s flags → a checked GenerationRequest (see generate_request.hpp).
#include "generate_request.hpp"

#include <cstdint>
#include <map>

#include "cli.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;

namespace {

// A request field, the flag that sets it and its key in the config ("" where there is none).
struct FieldSource {
  const char* flag;
  const char* config_key;
};
const std::map<std::string, FieldSource>& field_sources() {
  static const std::map<std::string, FieldSource> sources{
      {"prompt", {"prompt", ""}},
      {"negative_prompt", {"negative-prompt", "[generate] negative_prompt"}},
      {"width", {"width", "[generate] width"}},
      {"height", {"height", "[generate] height"}},
      {"steps", {"steps", "[generate] steps"}},
      {"cfg_scale", {"cfg", "[generate] cfg"}},
      {"sampler", {"sampler", "[generate] sampler"}},
      {"seed", {"seed", "[generate] seed"}},
      {"batch", {"batch", "[generate] batch"}},
      {"eta", {"", "[generate] eta"}},
      {"clip_skip", {"", "[generate] clip_skip"}},
      {"output_dir", {"out", "[runtime] output_dir"}},
      {"output_prefix", {"prefix", ""}},
  };
  return sources;
}

// boost's lexical_cast reads "-2" as 2^64 - 2 for an unsigned type: --seed is read here instead.
std::uint64_t parse_seed(const std::string& text) {
  const std::string expected = "--seed: expected an integer in [0, 18446744073709551615], got '" + text + "'";
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("generate: " + expected);
  std::uint64_t value = 0;
  for (char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) throw UsageError("generate: " + expected);
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

po::options_description generate_options() {
  po::options_description o(
      "ftdr generate: generate images from a prompt\n\n"
      "usage: ftdr generate --prompt TEXT [options]\n\n"
      "Flags not given take the config's [generate] values. Images go to --out (default\n"
      "[runtime] output_dir) and never replace a file there; their paths are printed, then\n"
      "the time of each phase. Every value is checked before any work.\n"
      "Exit status: 0 ok, 2 bad flag/config/plugin/model, 3 job failed, 4 cancelled.\n\n"
      "Options");
  add_common_options(o);
  o.add_options()("prompt,p", po::value<std::string>()->value_name("TEXT"),
                  "what to draw (required; quote it: -p \"a red circle\")")(
      "negative-prompt", po::value<std::string>()->value_name("TEXT"), "what to avoid")(
      "model", po::value<std::string>()->value_name("PATH"),
      "diffusers model folder or single-file checkpoint (.safetensors, .ckpt; overrides [model] path)")(
      "vae", po::value<std::string>()->value_name("FILE"), "separate VAE file (overrides [model] vae)")(
      "steps", po::value<int>()->value_name("N"), "denoising steps, 1..1000")(
      "cfg", po::value<double>()->value_name("X"), "classifier-free guidance scale, 0..100")(
      "sampler", po::value<std::string>()->value_name("NAME"),
      "default (the model's own) or a name the backend lists (libtorch: pndm, ddim, euler, euler_a, "
      "dpmpp_2m, dpmpp_2m_karras, lms)")("seed", po::value<std::string>()->value_name("N"),
                                         "seed, 0..2^64-1; image i of a batch uses seed + i")(
      "width", po::value<int>()->value_name("PX"),
      "width, a multiple of 8, 8..8192; 0 = the model's default size (SDXL 1024, SD 1.x 512)")(
      "height", po::value<int>()->value_name("PX"), "height, as --width")(
      "batch", po::value<int>()->value_name("N"), "images, 1..64")(
      "out", po::value<std::string>()->value_name("DIR"), "output folder (created if missing)")(
      "prefix", po::value<std::string>()->value_name("NAME"),
      "file names <NAME>-<index>.png (<NAME>-<index>-<n>.png when taken) instead of numbered ones; "
      "no '/', '\\' or control characters, at most 200 bytes")(
      "priority", po::value<std::string>()->value_name("P")->default_value("normal"),
      "urgent, high, normal or low");
  return o;
}

sdk::Priority parse_priority(const std::string& text) {
  for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
    if (sdk::to_string(p) == text) return p;
  throw UsageError("--priority: expected urgent, high, normal or low (got '" + text + "')");
}

std::string as_flag_message(const std::string& message, const po::variables_map& vm) {
  const std::string head = "request field '";
  std::string field, rest;
  if (message.rfind(head, 0) == 0) {
    const auto end = message.find('\'', head.size());
    if (end == std::string::npos) return message;
    field = message.substr(head.size(), end - head.size());
    rest = message.substr(end + 1);
  } else {
    const auto colon = message.find(':');
    if (colon == std::string::npos) return message;
    field = message.substr(0, colon);
    rest = message.substr(colon);
  }
  const auto it = field_sources().find(field);
  if (it == field_sources().end()) return message;
  const FieldSource& source = it->second;
  if (*source.flag && (vm.count(source.flag) || !*source.config_key))
    return "--" + std::string(source.flag) + rest;
  return source.config_key + rest;
}

sdk::GenerationRequest request_from(const po::variables_map& vm, sdk::GenerationRequest r) {
  if (!vm.count("prompt")) throw UsageError("generate: --prompt is required (see `ftdr generate --help`)");
  r.prompt = vm["prompt"].as<std::string>();
  if (vm.count("negative-prompt")) r.negative_prompt = vm["negative-prompt"].as<std::string>();
  if (vm.count("steps")) r.steps = vm["steps"].as<int>();
  if (vm.count("cfg")) r.cfg_scale = vm["cfg"].as<double>();
  if (vm.count("sampler")) r.sampler = vm["sampler"].as<std::string>();
  if (vm.count("seed")) r.seed = parse_seed(vm["seed"].as<std::string>());
  if (vm.count("width")) r.width = vm["width"].as<int>();
  if (vm.count("height")) r.height = vm["height"].as<int>();
  if (vm.count("batch")) r.batch = vm["batch"].as<int>();
  if (vm.count("out")) r.output_dir = vm["out"].as<std::string>();
  if (vm.count("prefix")) r.output_prefix = vm["prefix"].as<std::string>();
  try {
    fw::validate_request(r);
  } catch (const sdk::Error& e) {
    throw UsageError("generate: " + as_flag_message(e.what(), vm));
  }
  return r;
}

}  // namespace ftdr::host

// hosts/ftdr/generate_request.hpp: `ftdr generate`'s flags, and the request they make.
//
// Every value is checked before any work (the config, plugins and model are loaded only after):
// ranges, UTF-8, the file name prefix (request_validation.hpp), --seed as an unsigned integer.
// Errors name the flag the value came from, or the config key when no flag gave it:
//   "--cfg: expected a number in [0, 100], got 1e+30"
//   "[generate] clip_skip: expected 0..12 (the text encoder's layer count), got 13"
#pragma once
#include <string>

#include <boost/program_options.hpp>

#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::host {

boost::program_options::options_description generate_options();

// The request: the config's [generate] values (`defaults`) with the flags given over them.
// Throws UsageError naming the flag.
sdk::GenerationRequest request_from(const boost::program_options::variables_map& vm,
                                    sdk::GenerationRequest defaults);

sdk::Priority parse_priority(const std::string& text);

// "request field 'cfg_scale': expected ..." or "cfg_scale: expected ..." (a backend's check) →
// "--cfg: expected ..." when --cfg was given, else "[generate] cfg: expected ...". Other
// messages pass through unchanged.
std::string as_flag_message(const std::string& message, const boost::program_options::variables_map& vm);

}  // namespace ftdr::host
